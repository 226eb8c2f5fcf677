"""The model contract: an MLflow pyfunc that applies the stored preprocessing, then the network.

`predict` takes the raw feature columns (as in the feature table) and returns `score` (the
probability of the positive class, or the predicted value for regression) and `prediction` (the
label at the stored threshold, or the value). Imports only torch, numpy, pandas and two small
atelier modules, which travel with the model (`code_paths`).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from mlflow.pyfunc import PythonModel

from atelier.model.networks import ModelSpec, build_model, output_to_score
from atelier.model.preprocessor import Batch, Preprocessor

SPEC_FILE, WEIGHTS_FILE = "model_spec.json", "weights.pt"


class TabularModel(PythonModel):
    def load_context(self, context: Any) -> None:
        self.load(Path(context.artifacts["spec"]), Path(context.artifacts["weights"]))

    def load(self, spec_file: Path, weights_file: Path) -> TabularModel:
        spec = json.loads(spec_file.read_text())
        self.spec = ModelSpec(**spec["model"])
        self.preprocessor = Preprocessor.from_dict(spec["preprocessor"])
        self.label_scale = tuple(spec["label_scale"])
        self.threshold = float(spec["threshold"])
        self.net = build_model(self.spec)
        self.net.load_state_dict(torch.load(io.BytesIO(weights_file.read_bytes()), map_location="cpu"))
        self.net.eval()
        return self

    @classmethod
    def from_folder(cls, folder: Path) -> TabularModel:
        """The model of an MLflow model folder, read from its artifacts with this process's atelier."""
        return cls().load(folder / "artifacts" / SPEC_FILE, folder / "artifacts" / WEIGHTS_FILE)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        score = self.score(model_input)
        return pd.DataFrame({"score": score, "prediction": self.label(score)})

    def score(self, batch: Batch) -> np.ndarray:
        """The score of each row of a pandas frame or Arrow batch with the raw feature columns."""
        numeric, categorical = self.preprocessor.transform(batch)
        with torch.no_grad():
            out = self.net(torch.from_numpy(numeric), torch.from_numpy(categorical))
        return output_to_score(out, self.spec.task, self.label_scale).double().numpy()

    def label(self, score: np.ndarray) -> np.ndarray:
        """The predicted label at the stored threshold (binary), or the value itself (regression)."""
        return (score >= self.threshold).astype(np.int32) if self.spec.task == "binary" else score


def write_model_files(
    folder: Path,
    spec: ModelSpec,
    preprocessor: Preprocessor,
    label_scale: tuple[float, float],
    threshold: float,
    weights: bytes,
) -> dict[str, str]:
    """The pyfunc's artifacts on disk: {"spec": path, "weights": path}."""
    folder.mkdir(parents=True, exist_ok=True)
    payload = {
        "model": spec.to_dict(),
        "preprocessor": preprocessor.to_dict(),
        "label_scale": list(label_scale),
        "threshold": threshold,
    }
    (folder / SPEC_FILE).write_text(json.dumps(payload, indent=1))
    (folder / WEIGHTS_FILE).write_bytes(weights)
    return {"spec": str(folder / SPEC_FILE), "weights": str(folder / WEIGHTS_FILE)}
