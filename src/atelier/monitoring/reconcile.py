"""The reconcile job: predictions scored on a date joined with the outcomes known so far -> `ml.live_metrics`.

An outcome counts for a prediction scored on D when it arrived (`outcome_date`) by D +
`monitoring.maturity_days`. Per date the job also counts what it left out or could not use:
outcomes that arrived after that window (`outcomes_late`), extra outcomes for one entity
(`outcomes_duplicate`: the latest arrival wins, as a correction supersedes), outcomes for
entities that were never scored (`outcomes_unscored`), and predictions still without a label
(`rows_scored - rows_labelled`). Metrics are computed per date, model version, arm and population
(`all` rows the arm scored, and the rows it `served`), as Spark aggregates (grouped_metrics.py). A
rerun after more outcomes arrived replaces those dates; `label_completeness` and `computed_at` say
how complete the labels were when each figure was computed.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from atelier.catalog import (
    ARM,
    INGESTED_AT,
    LABEL_COMPLETENESS,
    LIVE_METRICS,
    METRICS,
    MODEL_NAME,
    MODEL_VERSION,
    OUTCOME_COUNTS,
    OUTCOME_DATE,
    POPULATION,
    ROLE,
    ROWS_LABELLED,
    ROWS_SCORED,
    SCORE,
    SCORE_DATE,
    SERVED,
    THRESHOLD,
)
from atelier.config.use_case import UseCaseConfig
from atelier.errors import AtelierError
from atelier.monitoring.grouped_metrics import LABEL, grouped_metrics
from atelier.spark.tables import Lake

log = logging.getLogger(__name__)

GROUP = [SCORE_DATE, MODEL_NAME, MODEL_VERSION, ARM, ROLE, POPULATION]
COUNTS = list(OUTCOME_COUNTS)
_PREDICTION = "_prediction"
LATE, DUPLICATE, UNSCORED = OUTCOME_COUNTS


class ReconcileError(AtelierError):
    """Dates that cannot be reconciled (nothing scored yet)."""


@dataclass
class ReconcileReport:
    run_id: str
    version: int = -1
    rows: list[dict] = field(default_factory=list)  # the `all`-population rows written, per date and arm


def labelled_predictions(
    lake: Lake, use_case: UseCaseConfig, start: dt.date, end: dt.date, versions: dict[str, int] | None = None
) -> DataFrame:
    """The predictions of [start, end] with the label of their matured outcome (null while unknown) and
    their date's outcome counts (`COUNTS`: late, duplicate, unscored). Each table is read at its version
    in `versions` when given, else its latest.

    Predictions and outcomes meet in one aggregation per entity and date after one shuffle by date:
    the counts (per date) and the live metrics (per date and arm) group by the date too, so Spark
    shuffles nothing else (each shuffle is a job of its own under adaptive execution). The price is
    one task per date: a day's predictions are counted in one task.
    """
    key, cfg = use_case.entity.key, use_case.monitoring
    pinned = versions or {}
    predictions_table, outcomes_table = use_case.scoring.predictions_table, use_case.tables.outcomes
    predictions = lake.read(predictions_table, pinned.get(predictions_table)).filter(
        F.col(SCORE_DATE).between(F.lit(start), F.lit(end))
    )
    fields = [c for c in predictions.columns if c not in (key, SCORE_DATE)]
    outcomes = (
        # partitioned by arrival: none before `start`
        lake.read(outcomes_table, pinned.get(outcomes_table))
        .filter((F.col(OUTCOME_DATE) >= F.lit(start)) & F.col(use_case.date_column).between(F.lit(start), F.lit(end)))
        .select(
            key,
            F.col(use_case.date_column).cast("date").alias(SCORE_DATE),
            OUTCOME_DATE,
            F.expr(use_case.label.expr).cast("double").alias(LABEL),
            INGESTED_AT,
        )
    )
    both = (
        predictions.select(key, SCORE_DATE, F.struct(*fields).alias(_PREDICTION))
        .unionByName(outcomes, allowMissingColumns=True)
        .repartition(lake.date_tasks(start, end), SCORE_DATE)
    )
    matured = F.col(OUTCOME_DATE) <= F.date_add(F.col(SCORE_DATE), cfg.maturity_days)  # null on prediction rows
    # one row per entity and date: its predictions, the latest matured outcome's label, how many matured, how many late
    per_entity = both.groupBy(key, SCORE_DATE).agg(
        F.collect_list(_PREDICTION).alias(_PREDICTION),
        F.max_by(F.when(matured, F.col(LABEL)), F.when(matured, F.struct(OUTCOME_DATE, INGESTED_AT))).alias(LABEL),
        F.coalesce(F.sum(matured.cast("long")), F.lit(0)).alias("_matured"),
        F.coalesce(F.sum((~matured).cast("long")), F.lit(0)).alias("_late"),
    )
    date = Window.partitionBy(SCORE_DATE)
    counted = per_entity.select(
        "*",
        F.sum("_late").over(date).alias(LATE),
        F.sum(F.greatest(F.col("_matured") - 1, F.lit(0))).over(date).alias(DUPLICATE),
        F.sum(((F.col("_matured") > 0) & (F.size(_PREDICTION) == 0)).cast("long")).over(date).alias(UNSCORED),
    )
    return counted.select(
        key,
        SCORE_DATE,
        F.explode(_PREDICTION).alias(_PREDICTION),
        F.when(~F.isnan(LABEL), F.col(LABEL)).alias(LABEL),
        *COUNTS,
    ).select(key, SCORE_DATE, f"{_PREDICTION}.*", LABEL, *COUNTS)


def reconcile(lake: Lake, use_case: UseCaseConfig, start: dt.date, end: dt.date) -> ReconcileReport:
    """Compute and replace the live metrics of every date in [start, end] that has predictions.

    Both inputs are read at the versions recorded with the metrics, even while another job commits."""
    versions = {name: lake.version(name) for name in (use_case.scoring.predictions_table, use_case.tables.outcomes)}
    joined = labelled_predictions(lake, use_case, start, end, versions)
    run_id = uuid.uuid4().hex
    populations = F.when(F.col(SERVED), F.array(F.lit("all"), F.lit("served"))).otherwise(F.array(F.lit("all")))
    rows = joined.withColumn(POPULATION, F.explode(populations)).select(*GROUP, *COUNTS, SCORE, LABEL, THRESHOLD)
    live = (
        grouped_metrics(rows, [*GROUP, *COUNTS], use_case.label.task)
        .select(  # the counts: one per date
            *GROUP,
            ROWS_SCORED,
            ROWS_LABELLED,
            LABEL_COMPLETENESS,
            *METRICS,
            *COUNTS,
            F.lit(use_case.monitoring.maturity_days).alias("maturity_days"),
            F.lit(versions[use_case.scoring.predictions_table]).alias("predictions_version"),
            F.lit(versions[use_case.tables.outcomes]).alias("outcomes_version"),
            F.lit(run_id).alias("reconcile_run_id"),
            F.current_timestamp().alias("computed_at"),
        )
        .select(*LIVE_METRICS.columns)
    )  # the contract's columns, in its order
    computed = live.collect()  # a few rows per date and arm: computed once, written and reported as they are
    if not computed:
        raise ReconcileError(
            f"{use_case.scoring.predictions_table} has no predictions for {start}..{end}: "
            "run the score job first; nothing was written"
        )
    name = use_case.monitoring.live_metrics_table
    version = lake.replace_dates(
        lake.spark.createDataFrame(computed, live.schema),
        name,
        SCORE_DATE,
        start,
        end,
        {"job": "reconcile", "run_id": run_id, "use_case": use_case.name, "inputs": versions},
    ).version
    reported = sorted((r.asDict() for r in computed if r[POPULATION] == "all"), key=lambda r: (r[SCORE_DATE], r[ARM]))
    return ReconcileReport(run_id=run_id, version=version, rows=reported)
