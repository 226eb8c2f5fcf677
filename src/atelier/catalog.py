"""The table catalog's contract: table names and the columns that a table's writers and readers share.

Writers (collect, features, scoring, the validation gate) and readers (features, validation,
monitoring; a streaming job or the online service to come) import these names from here, not from
each other, so that no stage depends on another stage's module to read its tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from atelier.config.platform import PlatformConfig

# bronze.<source>: the source's columns, then where and when each row was collected
BATCH_DATE = "_batch_date"  # the date a row was collected for (an event's own date)
INGESTED_AT = "_ingested_at"
SOURCE = "_source"  # "<source name>:<location>"
BRONZE_METADATA = (BATCH_DATE, INGESTED_AT, SOURCE)
# the use case's outcomes table: the entity key, its date, the outcome columns and the date they matured
OUTCOME_DATE = "outcome_date"
# predictions, and every table reconciled with them (live metrics, drift, alerts)
SCORE_DATE = "score_date"
# quarantine.<database>_<table>: what a job hands to the quarantine
QUARANTINE_DATE = "_date"
QUARANTINE_ROW = "_date date, failed_rules array<string>, row string"


# ---- the contracts of the tables that more than one stage (or a reader outside atelier) touches ----
#
# A contract lists a table's columns in the order its writer writes them, its key and its partition
# column. A column written "{name}" stands for the use case's own column(s) (`entity`: the entity key,
# `use_case.entity.key`; `date`: `use_case.date_column`; `outcomes`: the outcome columns):
# `contract.columns_for(entity="flight_id")` names them. The ml tables' names come from the use case
# (`use_case.scoring.predictions_table`, ...); `CONTRACTS` keys each contract by its default name.
ENTITY = "{entity}"
EVENT_DATE = "{date}"
OUTCOME_COLUMNS = "{outcomes}"


@dataclass(frozen=True)
class TableContract:
    """A table's columns (in written order), the columns that key a row, and its partition column (None: none)."""

    columns: tuple[str, ...]
    keys: tuple[str, ...]
    partition: str | None

    def columns_for(self, **names: str | Sequence[str]) -> list[str]:
        """The columns with each "{name}" placeholder replaced by `names[name]` (one column or several)."""
        out: list[str] = []
        for column in self.columns:
            if column.startswith("{") and column.endswith("}"):
                found = names[column[1:-1]]
                out += [found] if isinstance(found, str) else list(found)
            else:
                out.append(column)
        return out


# the columns that writers and readers both name
MODEL_NAME = "model_name"
MODEL_VERSION = "model_version"
ARM = "arm"  # the arm's name in use_case.scoring.arms
ROLE = "role"  # champion | challenger | shadow
SERVED = "served"  # the arm's score is the one served for this entity
SCORE = "score"
PREDICTED_LABEL = "predicted_label"
THRESHOLD = "threshold"
SCORING_RUN_ID = "scoring_run_id"
FEATURES_VERSION = "features_version"  # the Delta version of the features table read
POPULATION = "population"  # all: every row the arm scored; served: the rows it served
ROWS_SCORED = "rows_scored"
ROWS_LABELLED = "rows_labelled"
LABEL_COMPLETENESS = "label_completeness"
BINARY_METRICS = (
    "auc",
    "log_loss",
    "accuracy",
    "precision",
    "recall",
    "brier",
    "calibration_error",
    "predicted_positive_rate",
    "observed_positive_rate",
)
REGRESSION_METRICS = ("rmse", "mae", "bias")
METRICS = BINARY_METRICS + REGRESSION_METRICS  # every live-metrics row has them all, null where the task has none
OUTCOME_COUNTS = ("outcomes_late", "outcomes_duplicate", "outcomes_unscored")
FEATURE = "feature"  # a feature's name, or "score" for the score distribution
KIND = "kind"
IMPORTANCE_RANK = "importance_rank"
PSI = "psi"
FEATURES_JSON = "features"  # ml.prediction_log: the served row's feature values, as JSON
ALERT_DATE = "alert_date"
REQUEST_DATE = "request_date"

PREDICTIONS = TableContract(
    columns=(
        ENTITY,
        SCORE_DATE,
        MODEL_NAME,
        MODEL_VERSION,
        ARM,
        ROLE,
        SERVED,
        SCORE,
        PREDICTED_LABEL,
        THRESHOLD,
        SCORING_RUN_ID,
        FEATURES_VERSION,
        "scored_at",
    ),
    keys=(ENTITY, ARM, SCORE_DATE),
    partition=SCORE_DATE,
)
PREDICTION_LOG = TableContract(
    columns=(
        ENTITY,
        SCORE_DATE,
        MODEL_NAME,
        MODEL_VERSION,
        ARM,
        SCORE,
        PREDICTED_LABEL,
        SCORING_RUN_ID,
        FEATURES_JSON,
    ),
    keys=(ENTITY, SCORE_DATE),
    partition=SCORE_DATE,
)
LIVE_METRICS = TableContract(
    columns=(
        SCORE_DATE,
        MODEL_NAME,
        MODEL_VERSION,
        ARM,
        ROLE,
        POPULATION,
        ROWS_SCORED,
        ROWS_LABELLED,
        LABEL_COMPLETENESS,
        *METRICS,
        *OUTCOME_COUNTS,
        "maturity_days",
        "predictions_version",
        "outcomes_version",
        "reconcile_run_id",
        "computed_at",
    ),
    keys=(SCORE_DATE, MODEL_VERSION, ARM, POPULATION),
    partition=SCORE_DATE,
)
FEATURE_DRIFT = TableContract(
    columns=(
        SCORE_DATE,
        MODEL_NAME,
        MODEL_VERSION,
        FEATURE,
        KIND,
        IMPORTANCE_RANK,
        "importance",
        "rows",
        PSI,
        "ks",
        "chi2",
        "chi2_p",
        "null_share",
        "reference_null_share",
        FEATURES_VERSION,
        "drift_run_id",
        "computed_at",
    ),
    keys=(SCORE_DATE, MODEL_VERSION, FEATURE),
    partition=SCORE_DATE,
)
ALERTS = TableContract(
    columns=(
        ALERT_DATE,
        KIND,
        "subject",
        "value",
        THRESHOLD,
        "message",
        "use_case",
        "retrain",
        "notified",
        "monitor_run_id",
        "raised_at",
    ),
    keys=(ALERT_DATE, KIND, "subject"),
    partition=ALERT_DATE,
)
RETRAIN_REQUESTS = TableContract(
    columns=(REQUEST_DATE, "use_case", "reasons", "status", "monitor_run_id", "requested_at"),
    keys=(REQUEST_DATE,),
    partition=REQUEST_DATE,
)
REGISTRY_EVENTS = TableContract(
    columns=("model", "alias", "action", "from_version", "to_version", "at", "user", "evidence_run_id", "reason"),
    keys=("model", "alias", "at"),
    partition=None,
)
VALIDATION_RUNS = TableContract(
    columns=(
        "run_id",
        "job",
        "table_name",
        "date",
        "rows_in",
        "rows_passed",
        "rows_quarantined",
        "failures_by_rule",
        "outcome",
        "breaches",
        "report",
        "validated_at",
    ),
    keys=("run_id", "table_name", "date"),
    partition=None,
)
OUTCOMES = TableContract(
    columns=(ENTITY, EVENT_DATE, OUTCOME_DATE, OUTCOME_COLUMNS, INGESTED_AT),
    keys=(ENTITY,),
    partition=OUTCOME_DATE,
)
CONTRACTS: dict[str, TableContract] = {
    "ml.predictions": PREDICTIONS,
    "ml.prediction_log": PREDICTION_LOG,
    "ml.live_metrics": LIVE_METRICS,
    "ml.feature_drift": FEATURE_DRIFT,
    "ml.alerts": ALERTS,
    "ml.retrain_requests": RETRAIN_REQUESTS,
    "ml.registry_events": REGISTRY_EVENTS,
    "ops.validation_runs": VALIDATION_RUNS,
    "ml.outcomes": OUTCOMES,
}


def bronze_table(platform: PlatformConfig, source_name: str) -> str:
    """The bronze table of a source."""
    return f"{platform.databases.bronze}.{source_name}"


def quarantine_table(platform: PlatformConfig, table: str) -> str:
    """The quarantine of a table: `quarantine.<database>_<table>`."""
    return f"{platform.databases.quarantine}.{table.replace('.', '_')}"


def validation_runs_table(platform: PlatformConfig) -> str:
    """The append-only record of every validation run."""
    return f"{platform.databases.ops}.validation_runs"
