"""Fit the stateful normalization (`Preprocessor`) on the training window with two Spark aggregations.

The same fitted object transforms pandas batches in training and in scoring, so both see the
identical transform.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from atelier.model.preprocessor import OOV, Preprocessor


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
        pairs = F.explode(
            F.array(*[F.struct(F.lit(c).alias("column"), F.col(c).cast("string").alias("value")) for c in categorical])
        )
        counts = (
            train.select(pairs.alias("p"))
            .select("p.column", "p.value")
            .filter(F.col("value").isNotNull())
            .groupBy("column", "value")
            .count()
            .filter(F.col("count") >= min_count)
            .collect()
        )
        for row in sorted(counts, key=lambda r: (r["column"], -r["count"], r["value"])):
            if len(vocab[row["column"]]) <= max_categories:
                vocab[row["column"]].append(row["value"])
    return Preprocessor(numeric=stats, vocab=vocab)
