"""Stateful normalization, fit on the training window only and shipped inside the model.

`fit_preprocessor` learns standardization statistics and category vocabularies with two Spark
aggregations; `Preprocessor.transform` applies them to pandas batches, the same code in training
and in scoring, so both see the identical transform. Index 0 of every vocabulary is the
out-of-vocabulary bucket, which also takes nulls.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

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


def fit_preprocessor(
    train: DataFrame, numeric: list[str], categorical: list[str], max_categories: int = 1000, min_count: int = 1
) -> Preprocessor:
    """Learn means, standard deviations and vocabularies (most frequent first) from `train`."""
    stats: dict[str, tuple[float, float]] = {}
    if numeric:
        aggs = [F.mean(c).alias(f"m_{i}") for i, c in enumerate(numeric)] + [
            F.stddev_pop(c).alias(f"s_{i}") for i, c in enumerate(numeric)
        ]
        row = train.agg(*aggs).collect()[0]
        for i, column in enumerate(numeric):
            mean, std = row[f"m_{i}"], row[f"s_{i}"]
            stats[column] = (float(mean or 0.0), float(std) if std else 1.0)
    vocab: dict[str, list[str]] = {c: [OOV] for c in categorical}
    if categorical:
        pairs = F.explode(F.array(*[
            F.struct(F.lit(c).alias("column"), F.col(c).cast("string").alias("value")) for c in categorical
        ]))
        counts = (
            train.select(pairs.alias("p")).select("p.column", "p.value")
            .filter(F.col("value").isNotNull()).groupBy("column", "value").count()
            .filter(F.col("count") >= min_count).collect()
        )
        for row in sorted(counts, key=lambda r: (r["column"], -r["count"], r["value"])):
            if len(vocab[row["column"]]) <= max_categories:
                vocab[row["column"]].append(row["value"])
    return Preprocessor(numeric=stats, vocab=vocab)
