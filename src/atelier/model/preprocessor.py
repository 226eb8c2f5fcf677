"""Stateful normalization: standardization statistics and vocabularies fit on the training window.

`Preprocessor` needs only numpy and pyarrow (pandas frames are converted), so the model carries it
to any process that scores. It works on Arrow batches in vectorized kernels (a category lookup is
one `index_in` per column), which is what a Spark `mapInArrow` hands over. Index 0 of every
vocabulary is the out-of-vocabulary bucket, which also takes nulls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

OOV = "<OOV>"
Batch: TypeAlias = pa.RecordBatch | pa.Table | pd.DataFrame


class PreprocessingError(ValueError):
    """A batch whose columns the preprocessor cannot read (missing, or not numbers where numbers are due)."""


@dataclass(frozen=True)
class Preprocessor:
    numeric: dict[str, tuple[float, float]]  # column -> (mean, std)
    vocab: dict[str, list[str]] = field(default_factory=dict)  # column -> [OOV, categories...]

    def transform(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        """Standardized numerics (float32, nulls imputed to the mean, i.e. 0) and category indices (int64)."""
        if isinstance(batch, pd.DataFrame):
            batch = pa.Table.from_pandas(batch[self.columns], preserve_index=False)
        missing = sorted(set(self.columns) - set(batch.schema.names))
        if missing:
            raise PreprocessingError(f"input lacks columns {missing}")
        num = np.empty((batch.num_rows, len(self.numeric)), dtype=np.float64)
        for j, column in enumerate(self.numeric):
            num[:, j] = _floats(batch.column(column), column)
        num = np.nan_to_num((num - self._means) / self._stds, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)
        cat = np.zeros((batch.num_rows, len(self.vocab)), dtype=np.int64)
        for j, (column, known) in enumerate(self._value_sets.items()):
            values = batch.column(column)
            if not pa.types.is_string(values.type):
                values = pc.cast(values, pa.string())
            found = pc.index_in(values, value_set=known)
            cat[:, j] = pc.fill_null(pc.add(found, 1), 0).to_numpy(zero_copy_only=False)
        return num, cat

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.vocab]

    def cardinalities(self) -> list[int]:
        return [len(v) for v in self.vocab.values()]

    def to_dict(self) -> dict:
        return {"numeric": {k: list(v) for k, v in self.numeric.items()}, "vocab": self.vocab}

    @classmethod
    def from_dict(cls, data: dict) -> Preprocessor:
        return cls(numeric={k: (float(m), float(s)) for k, (m, s) in data["numeric"].items()}, vocab=data["vocab"])

    @cached_property
    def _means(self) -> np.ndarray:
        return np.array([m for m, _ in self.numeric.values()], dtype=np.float64)

    @cached_property
    def _stds(self) -> np.ndarray:
        return np.array([s for _, s in self.numeric.values()], dtype=np.float64)

    @cached_property
    def _value_sets(self) -> dict[str, pa.Array]:
        return {c: pa.array(v[1:], type=pa.string()) for c, v in self.vocab.items()}


def _floats(values: pa.ChunkedArray | pa.Array, column: str) -> np.ndarray:
    """A column as float64 with NaN for nulls; strings must parse as numbers."""
    try:
        values = pc.cast(values, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise PreprocessingError(f"column '{column}' must be numeric ({values.type}): {err}") from None
    return values.to_numpy(zero_copy_only=False)
