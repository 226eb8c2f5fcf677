"""The live metrics of many groups at once, as Spark aggregates (no Python worker, no per-group sklearn).

Each figure equals `model.metrics.defined_metrics` on the group's labelled rows (tested against
it): the same clipping, threshold rule (`score >= threshold`), tie handling (the AUC is the
Mann-Whitney statistic with ties counted half, as `roc_auc_score`), calibration bins and
definedness (nothing without labelled rows; the two-class metrics need both classes).

A binary task is aggregated per distinct score of a group first: within one score every row has
the same prediction, clipped probability and calibration bin, so each metric is a sum over score
levels, and the AUC's rank sums come from one window over the levels in score order.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from atelier.catalog import (
    BINARY_METRICS,
    LABEL_COMPLETENESS,
    REGRESSION_METRICS,
    ROWS_LABELLED,
    ROWS_SCORED,
    SCORE,
    THRESHOLD,
)

LABEL = "label"
BINARY = list(BINARY_METRICS)
REGRESSION = list(REGRESSION_METRICS)
METRICS = BINARY + REGRESSION  # the columns of every result, null where the task has no such metric
CLIP = 1e-7  # as model.metrics' log loss
BINS = 10  # as model.metrics.expected_calibration_error


def grouped_metrics(rows: DataFrame, group: list[str], task: str) -> DataFrame:
    """Per `group`: rows_scored, rows_labelled, label_completeness and the task's metrics (null where
    undefined), from rows with `score`, `label` (null while unknown) and `threshold` (one per group)."""
    table = _binary(rows, group) if task == "binary" else _regression(rows, group)
    return table.select(
        *group,
        ROWS_SCORED,
        ROWS_LABELLED,
        (F.col(ROWS_LABELLED) / F.col(ROWS_SCORED)).alias(LABEL_COMPLETENESS),
        *[(F.col(m) if m in table.columns else F.lit(None)).cast("double").alias(m) for m in METRICS],
    )


def _regression(rows: DataFrame, group: list[str]) -> DataFrame:
    error = F.col(SCORE) - F.col(LABEL)  # null where the label is
    return rows.groupBy(*group).agg(
        F.count(F.lit(1)).alias(ROWS_SCORED),
        F.count(LABEL).alias(ROWS_LABELLED),
        F.sqrt(F.avg(error * error)).alias("rmse"),
        F.avg(F.abs(error)).alias("mae"),
        F.avg(error).alias("bias"),
    )


def _binary(rows: DataFrame, group: list[str]) -> DataFrame:
    score = F.col(SCORE)
    levels = rows.groupBy(*group, SCORE).agg(
        F.count(F.lit(1)).alias("n"),
        F.count(LABEL).alias("m"),
        F.coalesce(F.sum(LABEL), F.lit(0.0)).alias("pos"),
        F.first(THRESHOLD).alias("t"),
    )
    below = Window.partitionBy(*group).orderBy(SCORE).rowsBetween(Window.unboundedPreceding, -1)
    neg = F.col("m") - F.col("pos")
    clipped = F.least(F.greatest(score, F.lit(CLIP)), F.lit(1 - CLIP))
    predicted = (score >= F.col("t")).cast("double")
    per_level = levels.select(
        *group,
        F.least(F.floor(score * BINS), F.lit(BINS - 1)).alias("bin"),
        "n",
        "m",
        "pos",
        neg.alias("neg"),
        (score * F.col("m")).alias("score_sum"),
        (F.col("pos") * (F.coalesce(F.sum(neg).over(below), F.lit(0.0)) + 0.5 * neg)).alias("pairs_won"),
        (-(F.col("pos") * F.log(clipped) + neg * F.log(1 - clipped))).alias("loss"),
        (predicted * F.col("pos") + (1 - predicted) * neg).alias("correct"),
        (F.col("pos") * (score - 1) * (score - 1) + neg * score * score).alias("squared"),
        (predicted * F.col("pos")).alias("tp"),
        (predicted * F.col("m")).alias("pp"),
    )
    summed = ["n", "m", "pos", "pairs_won", "loss", "correct", "squared", "tp", "pp"]
    per_bin = per_level.groupBy(*group, "bin").agg(
        *[F.sum(c).alias(c) for c in summed], F.abs(F.sum("pos") - F.sum("score_sum")).alias("gap")
    )
    sums = per_bin.groupBy(*group).agg(*[F.sum(c).alias(c) for c in [*summed, "gap"]])
    m, pos = F.col("m"), F.col("pos")
    labelled, both = m > 0, (pos > 0) & (pos < m)

    return sums.select(
        *group,
        F.col("n").alias(ROWS_SCORED),
        m.alias(ROWS_LABELLED),
        F.when(both, F.col("pairs_won") / (pos * (m - pos))).alias("auc"),
        F.when(both, F.col("loss") / m).alias("log_loss"),
        F.when(labelled, F.col("correct") / m).alias("accuracy"),
        F.when(both, F.when(F.col("pp") > 0, F.col("tp") / F.col("pp")).otherwise(0.0)).alias("precision"),
        F.when(both, F.col("tp") / pos).alias("recall"),
        F.when(labelled, F.col("squared") / m).alias("brier"),
        F.when(both, F.col("gap") / m).alias("calibration_error"),
        F.when(labelled, F.col("pp") / m).alias("predicted_positive_rate"),
        F.when(labelled, pos / m).alias("observed_positive_rate"),
    )
