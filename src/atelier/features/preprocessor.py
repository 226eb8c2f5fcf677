"""Stateful normalization: standardization statistics and vocabularies fit on the training window.

`Preprocessor` (and the function that encodes a pandas batch with it) needs only numpy and pandas,
so the model carries it to any process that scores; Index 0 of every vocabulary is the
out-of-vocabulary bucket, which also takes nulls.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

OOV = "<OOV>"


@dataclass(frozen=True)
class Preprocessor:
    numeric: dict[str, tuple[float, float]]  # column -> (mean, std)
    vocab: dict[str, list[str]] = field(default_factory=dict)  # column -> [OOV, categories...]

    def transform(self, batch: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Standardized numerics (nulls imputed to the mean, i.e. 0) and category indices (int64)."""
        num = np.zeros((len(batch), len(self.numeric)), dtype=np.float32)
        for j, (column, (mean, std)) in enumerate(self.numeric.items()):
            values = pd.to_numeric(batch[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            num[:, j] = np.nan_to_num((values - mean) / std, nan=0.0)
        cat = np.zeros((len(batch), len(self.vocab)), dtype=np.int64)
        for j, (column, categories) in enumerate(self.vocab.items()):
            index = {value: i for i, value in enumerate(categories) if i > 0}
            cat[:, j] = batch[column].map(index).fillna(0).to_numpy(dtype=np.int64)
        return num, cat

    def cardinalities(self) -> list[int]:
        return [len(v) for v in self.vocab.values()]

    def to_dict(self) -> dict:
        return {"numeric": {k: list(v) for k, v in self.numeric.items()}, "vocab": self.vocab}

    @classmethod
    def from_dict(cls, data: dict) -> Preprocessor:
        return cls(numeric={k: (float(m), float(s)) for k, (m, s) in data["numeric"].items()}, vocab=data["vocab"])
