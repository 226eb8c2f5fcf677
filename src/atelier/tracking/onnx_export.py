"""Library deployment for JVM services: the model behind an alias written as `model.onnx` (the graph of
`model/onnx_graph.py`) and `manifest.json`, checked against the pyfunc on probe rows.

`manifest.json` says what the model is and takes; the same facts are in the graph's metadata, which is
what the Java library reads.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
from mlflow.models import Model

from atelier.config.use_case import UseCaseConfig
from atelier.model.onnx_graph import (
    ML_OPSET,
    NULL_CATEGORY,
    OPSET,
    OUTPUT,
    TOLERANCE,
    ExportCheckFailed,
    ort_scores,
    probe_frames,
    session,
    to_onnx,
)
from atelier.model.pyfunc import TabularModel
from atelier.safe_paths import Output
from atelier.tracking.export import Source, input_columns, source, staged

log = logging.getLogger(__name__)

MODEL_FILE, MANIFEST_FILE = "model.onnx", "manifest.json"
WRITES = Output("atelier export --format onnx", MANIFEST_FILE, (MODEL_FILE, MANIFEST_FILE))


def manifest(
    found: Source, model: TabularModel, columns: list[str], threshold: float | None, check: dict[str, float]
) -> dict:
    """What a service needs to know about the graph, for people and for tools that do not read ONNX metadata."""
    pre = model.preprocessor
    inputs = [
        {"name": c, "type": "string", "null": "out-of-vocabulary (index 0)", "categories": len(pre.vocab[c]) - 1}
        if c in pre.vocab
        else {
            "name": c,
            "type": "double",
            "null": "the training mean",
            "mean": pre.numeric[c][0],
            "std": pre.numeric[c][1],
        }
        for c in columns
    ]
    binary = model.spec.task == "binary"
    return {
        "format": "atelier-onnx/1",
        "file": MODEL_FILE,
        "model": found.model,
        "version": found.version,
        "alias": found.alias,
        "training_run_id": found.run.info.run_id,
        "task": model.spec.task,
        "inputs": inputs,
        "null_category": NULL_CATEGORY,
        "output": {
            "name": OUTPUT,
            "type": "float",
            "meaning": "probability of the positive class" if binary else "predicted value",
        },
        "threshold": threshold,
        "opset": {"ai.onnx": OPSET, "ai.onnx.ml": ML_OPSET},
        "check": check,
    }


def export_onnx(use_case: UseCaseConfig, alias: str, target: Path, protected: Iterable[Path] = ()) -> Path:
    """Write the model behind `alias` to `target` as model.onnx and manifest.json, checked against the
    pyfunc (a previous ONNX export there is replaced; `protected`: folders to stay out of)."""
    found = source(use_case, alias)
    with tempfile.TemporaryDirectory() as tmp, staged(target, WRITES, protected) as folder:
        local = found.download(Path(tmp))
        model = TabularModel.from_folder(local)
        columns = input_columns(local)
        threshold = model.threshold if model.spec.task == "binary" else None
        metadata = {
            "model": found.model,
            "version": found.version,
            "alias": alias,
            "training_run_id": found.run.info.run_id,
            "task": model.spec.task,
            "threshold": "" if threshold is None else repr(threshold),
            "null_category": NULL_CATEGORY,
        }
        onnx.save(to_onnx(model, columns, metadata), folder / MODEL_FILE)
        frames = probe_frames(Model.load(str(local)).load_input_example(str(local)), list(model.preprocessor.vocab))
        sess = session(folder / MODEL_FILE)
        diff = max(float(np.abs(ort_scores(sess, f) - model.score(f)).max()) for f in frames)
        rows = sum(len(f) for f in frames)
        if not diff <= TOLERANCE:
            raise ExportCheckFailed(
                f"{found.model} version {found.version}: the ONNX graph differs from the pyfunc "
                f"by up to {diff:.3g} on {rows} probe rows (tolerance {TOLERANCE})"
            )
        check = {"rows": rows, "max_abs_diff": diff}
        (folder / MANIFEST_FILE).write_text(json.dumps(manifest(found, model, columns, threshold, check), indent=1))
    log.info(
        "exported %s version %s (%s) to %s; %d probe rows within %.2g of the pyfunc",
        found.model,
        found.version,
        alias,
        target,
        rows,
        diff,
    )
    return target.resolve()


def write_rows(path: Path, frame: pd.DataFrame, scores: np.ndarray) -> Path:
    """Rows and their expected scores as JSON for the Java side (tests, benchmark): columns, data (null for
    missing), score. Floats are written exactly (Python's repr), so both sides score the same numbers."""
    data = frame.astype(object).where(frame.notna(), None).to_numpy().tolist()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"columns": list(frame.columns), "data": data, "score": scores.tolist()}))
    return path
