"""The configuration schema: the platform (resources) and use cases (what to build)."""
from __future__ import annotations

import codecs
import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from atelier.identifiers import IDENTIFIER_PATTERN, TABLE_NAME_PATTERN

# Names that reach SQL text: an identifier (letters, digits, _), and `<database>.<table>` of two.
Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]
TableName = Annotated[str, Field(pattern=TABLE_NAME_PATTERN)]
SPARK_TYPES = {"string", "int", "bigint", "double", "float", "boolean", "date", "timestamp"}


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SparkConfig(StrictModel):
    master: str = "local[*]"
    app_name: str = "atelier"
    shuffle_partitions: int = Field(8, ge=1)
    driver_memory: str = "4g"
    log_level: Literal["ERROR", "WARN", "INFO", "DEBUG"] = "WARN"
    ui_enabled: bool = False
    extra_conf: dict[str, str] = Field(default_factory=dict)

    @field_validator("extra_conf", mode="before")
    @classmethod
    def _settings_as_text(cls, value: object) -> object:
        """Spark settings are text: YAML's `true`, `2` (unquoted, or from `--set`) become "true", "2"."""
        if not isinstance(value, dict):
            return value
        return {k: (str(v).lower() if isinstance(v, bool) else str(v) if isinstance(v, int | float) else v)
                for k, v in value.items()}


class Databases(StrictModel):
    bronze: Identifier = "bronze"
    silver: Identifier = "silver"
    gold: Identifier = "gold"
    ml: Identifier = "ml"
    ops: Identifier = "ops"
    quarantine: Identifier = "quarantine"


class MlflowConfig(StrictModel):
    """The tracking store and model registry (SQLite by default), and where run artifacts go."""

    tracking_uri: str = "sqlite:///var/mlflow/mlflow.db"
    registry_uri: str | None = None
    artifact_root: str = "var/mlflow/artifacts"
    experiment_prefix: str = "atelier/"


class OrchestrationConfig(StrictModel):
    """How Airflow runs the jobs (written into the DAG plan by `atelier airflow-plan`).

    Every task takes one slot of `pool`: with the embedded Derby catalog only one Spark job may open
    the metastore at a time, so the pool has `pool_slots` 1; a shared metastore (PostgreSQL, Glue)
    lets it grow, and Delta's partition-aligned writes keep jobs for different dates apart.
    """

    spark_conn_id: str = "spark_default"
    pool: str = "atelier_spark"
    pool_slots: int = Field(1, ge=1)
    retries: int = Field(2, ge=0)
    retry_delay_s: int = Field(30, ge=1)
    max_retry_delay_s: int = Field(600, ge=1)
    task_timeout_minutes: int = Field(60, ge=1)
    # Unpausing a daily DAG runs every date of the use case's data_range not yet run (Airflow's catch-up).
    catchup: bool = True
    retrain_schedule: str = "@weekly"


class WritesConfig(StrictModel):
    """How a Delta write that conflicts with a concurrent commit is retried (src/atelier/spark/tables.py).

    A conflict (one of Delta's concurrent-modification exceptions) reruns the whole write after
    `backoff_s`, doubled after each conflict up to `max_backoff_s`, times a random factor in [0.5, 1];
    after `attempts` conflicts the job fails with a TableError naming the table, dates and conflict.
    """

    attempts: int = Field(5, ge=1)
    backoff_s: float = Field(0.5, ge=0)
    max_backoff_s: float = Field(8.0, ge=0)


class PlatformConfig(StrictModel):
    """Where things live and how Spark runs; environments change these, never code."""

    lake_root: str = "var/lake"
    metastore_dir: str = "var/metastore"
    cache_dir: str = "var/cache"
    reports_dir: str = "var/reports"
    spark: SparkConfig = Field(default_factory=SparkConfig)
    databases: Databases = Field(default_factory=Databases)
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig)
    orchestration: OrchestrationConfig = Field(default_factory=OrchestrationConfig)
    writes: WritesConfig = Field(default_factory=WritesConfig)


class EntityConfig(StrictModel):
    key: str
    natural_key: list[str] = Field(min_length=1)


class SourceConfig(StrictModel):
    """One input: where it is, its schema, and whether it is dated events or a reference snapshot.

    Text files (`csv`, `package`) are decoded in `encoding`; a line that does not decode, or a value
    that does not fit its column's type, is quarantined (`on_parse_error: quarantine`) or fails the
    job (`refuse`). More than `max_bad_share` of the collected dates' rows quarantined so fails it too.
    """

    kind: Literal["events", "reference"]
    format: Literal["csv", "parquet", "delta", "package"]
    path: str
    package: str | None = None
    date_expr: str | None = None
    columns: dict[str, str] = Field(min_length=1)
    outcome_columns: list[str] = Field(default_factory=list)
    options: dict[str, str] = Field(default_factory=dict)
    encoding: str = "utf-8"
    on_parse_error: Literal["quarantine", "refuse"] = "quarantine"
    max_bad_share: float = Field(0.01, ge=0, le=1)

    @field_validator("columns")
    @classmethod
    def _known_types(cls, columns: dict[str, str]) -> dict[str, str]:
        bad = {c: t for c, t in columns.items() if t not in SPARK_TYPES}
        if bad:
            raise ValueError(f"unknown column types {bad}; use one of {sorted(SPARK_TYPES)}")
        return columns

    @field_validator("encoding")
    @classmethod
    def _line_based_encoding(cls, encoding: str) -> str:
        """An encoding Python knows, in which a line ends with the byte 0x0a (files are checked line by line)."""
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(f"unknown encoding '{encoding}'") from None
        if "\n,".encode(encoding) != b"\n,":
            raise ValueError(f"encoding '{encoding}' is not ASCII-compatible (UTF-16 and UTF-32 are not supported)")
        return encoding

    @model_validator(mode="after")
    def _consistent(self) -> SourceConfig:
        if self.format == "package" and not self.package:
            raise ValueError("format 'package' needs 'package' (the Python package that ships the file)")
        if self.kind == "events" and not self.date_expr:
            raise ValueError("an 'events' source needs 'date_expr' (the SQL giving each row's date)")
        missing = [c for c in self.outcome_columns if c not in self.columns]
        if missing:
            raise ValueError(f"outcome_columns {missing} are not in columns")
        if {k.lower() for k in self.options} & {"encoding", "charset"}:
            raise ValueError("give the source's 'encoding', not options.encoding or options.charset")
        return self


class RuleConfig(StrictModel):
    """A cleaning rule: rows where `condition` is false are dropped, or the named columns nulled."""

    name: str
    condition: str
    action: Literal["drop", "set_null"]
    columns: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _columns_for_null(self) -> RuleConfig:
        if self.action == "set_null" and not self.columns:
            raise ValueError(f"rule '{self.name}': action 'set_null' needs 'columns'")
        return self


class JoinConfig(StrictModel):
    """A join of the primary source with another: `lookup` on keys, or point-in-time `asof`."""

    source: str
    type: Literal["lookup", "asof"]
    keys: dict[str, str] = Field(min_length=1)
    select: list[str] | dict[str, str]
    prefix: str = ""
    left_time: str | None = None
    right_time: str | None = None
    tolerance_hours: float | None = Field(None, gt=0)
    time_alias: str | None = None

    @model_validator(mode="after")
    def _asof_fields(self) -> JoinConfig:
        if self.type == "asof" and not (self.left_time and self.right_time and self.tolerance_hours):
            raise ValueError("an 'asof' join needs left_time, right_time and tolerance_hours")
        return self

    def output_columns(self) -> dict[str, str]:
        """Right-side column -> name in the joined frame."""
        if isinstance(self.select, dict):
            return dict(self.select)
        return {c: f"{self.prefix}{c}" for c in self.select}


class CleanConfig(StrictModel):
    primary: str
    derive: dict[str, str] = Field(default_factory=dict)
    rules: list[RuleConfig] = Field(default_factory=list)
    joins: list[JoinConfig] = Field(default_factory=list)
    enrich: dict[str, str] = Field(default_factory=dict)


class FeatureConfig(StrictModel):
    """One feature of the gold table; see conf/base/use_cases/flights_delay.yaml for the forms."""

    name: str
    type: Literal["numeric", "categorical"] = "numeric"
    expr: str | None = None
    cyclic: float | None = Field(None, gt=0)
    builtin: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_form(self) -> FeatureConfig:
        if self.builtin and self.expr:
            raise ValueError(f"feature '{self.name}': give 'expr' or 'builtin', not both")
        if self.cyclic and self.type != "numeric":
            raise ValueError(f"feature '{self.name}': 'cyclic' applies to numeric features only")
        return self

    def output_columns(self) -> list[str]:
        if self.cyclic:
            return [f"{self.name}_sin", f"{self.name}_cos"]
        return [self.name]


class LabelConfig(StrictModel):
    name: str
    task: Literal["binary", "regression"]
    expr: str


class TablesConfig(StrictModel):
    silver: TableName
    features: TableName
    outcomes: TableName


class DateRange(StrictModel):
    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def dates(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range((self.end - self.start).days + 1)]


class RowRule(StrictModel):
    """A rule each row must meet; rows that break it are quarantined with the rule's name.

    `between`, `in_set` and `regex` let nulls pass (`not_null` is the rule for those); a `sql`
    condition that evaluates to null counts as broken.
    """

    name: str
    type: Literal["not_null", "between", "in_set", "regex", "sql"]
    column: str | None = None
    columns: list[str] = Field(default_factory=list)
    min: float | None = None
    max: float | None = None
    values: list[Any] = Field(default_factory=list)
    pattern: str | None = None
    condition: str | None = None

    @model_validator(mode="after")
    def _fields_for_type(self) -> RowRule:
        need = {
            "not_null": self.columns or self.column,
            "between": self.column and (self.min is not None or self.max is not None),
            "in_set": self.column and self.values,
            "regex": self.column and self.pattern,
            "sql": self.condition,
        }[self.type]
        if not need:
            raise ValueError(f"row rule '{self.name}' of type {self.type} is missing its fields "
                             "(not_null: columns; between: column, min/max; in_set: column, values; "
                             "regex: column, pattern; sql: condition)")
        return self

    def checked_columns(self) -> list[str]:
        return self.columns or ([self.column] if self.column else [])


class TableRule(StrictModel):
    """A rule on the whole table for the date; a breach fails the job.

    schema: the configured columns and types are present; unique: `columns` identify rows;
    row_count: between `min_ratio` and `max_ratio` of the trailing `trailing_days` runs' average
    (and at least `min_rows`); freshness: the latest `column` is at most `max_age_hours` before
    the end of the run's date.
    """

    name: str
    type: Literal["schema", "unique", "row_count", "freshness"]
    columns: list[str] = Field(default_factory=list)
    column: str | None = None
    min_rows: int = Field(1, ge=0)
    min_ratio: float | None = Field(None, ge=0)
    max_ratio: float | None = Field(None, ge=0)
    trailing_days: int = Field(7, ge=1)
    max_age_hours: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _fields_for_type(self) -> TableRule:
        if self.type == "unique" and not self.columns:
            raise ValueError(f"table rule '{self.name}': unique needs columns")
        if self.type == "freshness" and not (self.column and self.max_age_hours):
            raise ValueError(f"table rule '{self.name}': freshness needs column and max_age_hours")
        return self


class TableValidation(StrictModel):
    row_rules: list[RowRule] = Field(default_factory=list)
    table_rules: list[TableRule] = Field(default_factory=list)


class ValidationConfig(StrictModel):
    """Expectations per table: keys are source names (their bronze tables), `silver` and `features`."""

    on_write: bool = True
    tables: dict[str, TableValidation] = Field(default_factory=dict)


class ModelConfig(StrictModel):
    """A model of the zoo by name (`mlp`, `linear`) and its hyperparameters (see atelier.model.networks)."""

    name: Literal["mlp", "linear"] = "mlp"
    params: dict[str, Any] = Field(default_factory=dict)


class SplitConfig(StrictModel):
    """Split the training window by time: the last `test_days` are test, the `validation_days` before validation."""

    validation_days: int = Field(14, ge=1)
    test_days: int = Field(14, ge=1)


class TrainingConfig(StrictModel):
    """How a use case trains: window and split, model, loader, backend and their hyperparameters.

    `batch_size` is the global batch: each of `num_proc` processes takes its share, so the optimization
    is the same on a laptop and on a cluster. `parallel_trials` is how many trials of a sweep train at
    once: threads of the sweep job, each with its own Spark jobs and MLflow run in the same store.
    """

    window: DateRange | None = None
    split: SplitConfig = Field(default_factory=SplitConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    loader: Literal["arrow", "petastorm"] = "arrow"
    backend: Literal["local", "horovod", "torch_distributor"] = "local"
    num_proc: int = Field(1, ge=1)
    use_gpu: bool = False
    epochs: int = Field(5, ge=1)
    batch_size: int = Field(1024, ge=1)
    learning_rate: float = Field(2e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    seed: int = 13
    threshold: float = Field(0.5, gt=0, lt=1)
    log_every_steps: int = Field(20, ge=1)
    dynamics_every_steps: int = Field(50, ge=1)
    max_categories: int = Field(1000, ge=1)
    shards: int = Field(16, ge=1)
    start_timeout_s: int = Field(120, ge=10)
    registered_model: str | None = None
    importance_repeats: int = Field(1, ge=1)
    exclude_features: list[str] = Field(default_factory=list)
    parallel_trials: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _enough_shards(self) -> TrainingConfig:
        if self.shards < self.num_proc:
            raise ValueError(f"shards ({self.shards}) must be at least num_proc ({self.num_proc}): "
                             "each process reads whole shards")
        return self


class PromotionConfig(StrictModel):
    """The promotion gate: a candidate replaces the champion only if it wins by every margin.

    `margins` maps a metric to the least improvement required (higher-is-better metrics must rise
    by it, lower-is-better ones fall by it); the paired bootstrap gives each difference a
    `confidence` interval over `bootstrap_samples` resamples of the held-out rows. The held-out
    window is `window`, else the candidate's own test days.
    """

    margins: dict[str, float] = Field(default_factory=lambda: {"auc": 0.0, "log_loss": 0.0})
    bootstrap_samples: int = Field(200, ge=10)
    confidence: float = Field(0.95, gt=0.5, lt=1)
    window: DateRange | None = None
    seed: int = 13


class ArmConfig(StrictModel):
    """A model version that scores: the `champion` (served), a `challenger` (served to `share` of the
    rows, by a hash of the entity key), or a `shadow` (scored for every row, never served).
    The version is a registry alias (`champion`, `challenger`) or a fixed `version`."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    role: Literal["champion", "challenger", "shadow"]
    alias: str | None = None
    version: str | None = None
    share: float = Field(0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _one_source(self) -> ArmConfig:
        if (self.alias is None) == (self.version is None):
            raise ValueError(f"arm '{self.name}': give alias or version (one of them)")
        if self.role == "challenger" and not 0 < self.share < 1:
            raise ValueError(f"arm '{self.name}': a challenger needs a share between 0 and 1")
        return self


class ScoringConfig(StrictModel):
    """Scheduled batch scoring: the arms, the assignment salt, the engine (`jvm`: ONNX Runtime in the
    executor JVMs, or `python`: the pyfunc in Python workers; docs/scoring.md) and the sampled prediction log."""

    arms: list[ArmConfig] = Field(default_factory=lambda: [ArmConfig(name="champion", role="champion",
                                                                     alias="champion")])
    salt: str = "ab-1"
    # jvm: each arm's model as an ONNX graph run by ONNX Runtime in the executor JVMs (no Python hop);
    # python: each arm's pyfunc in the executors' Python workers (mapInArrow over Arrow batches).
    engine: Literal["jvm", "python"] = "jvm"
    # The first date the daily schedule scores (default: the day after training.window ends); a daily
    # run for an earlier date builds the tables and skips scoring, reconciliation and monitoring.
    start: dt.date | None = None
    prediction_log_percent: float = Field(0.0, ge=0, le=100)
    predictions_table: TableName = "ml.predictions"
    prediction_log_table: TableName = "ml.prediction_log"

    @model_validator(mode="after")
    def _roles(self) -> ScoringConfig:
        roles = [a.role for a in self.arms]
        if roles.count("champion") != 1 or roles.count("challenger") > 1:
            raise ValueError(f"scoring.arms: exactly one champion and at most one challenger, got roles {roles}")
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"scoring.arms: duplicate arm names {names}")
        return self


AlertKind = Literal["feature_psi", "score_psi", "live_metric", "label_completeness", "no_predictions"]


class AlertConfig(StrictModel):
    """When monitoring raises an alert (each check can be switched off with `enabled`)."""

    enabled: list[AlertKind] = Field(default_factory=lambda: ["feature_psi", "score_psi", "live_metric",
                                                              "label_completeness", "no_predictions"])
    feature_psi: float = Field(0.2, gt=0)  # PSI above this on one of the most important features
    important_features: int = Field(10, ge=1)  # how many of the champion's most important features count
    score_psi: float = Field(0.2, gt=0)  # PSI of the served score distribution against the test window's
    # The champion's live AUC below its test AUC by more than `metric_drop` (regression: live RMSE
    # above the test RMSE by more than that fraction) on its last `metric_drop_days` reconciled days.
    metric_drop: float = Field(0.05, ge=0)
    metric_drop_days: int = Field(3, ge=1)
    min_label_completeness: float = Field(0.8, ge=0, le=1)  # share of scored rows with a matured outcome


class MonitoringConfig(StrictModel):
    """Reconciliation, drift and alerts.

    An outcome counts for a prediction scored on D if it arrived (its `outcome_date`) by D +
    `maturity_days`; later ones are counted as late and left out, so a date's figures settle once
    the window has passed. A breach writes `alerts_table`, may POST to `webhook_uri` (off when
    unset) and, for the kinds in `retrain_on`, records a request in `retrain_requests_table`.
    """

    maturity_days: int = Field(2, ge=0)
    # Drift of date D compares the rows of the `drift_window_days` ending on D with the reference: one
    # day of a daily-seasonal feature (the weekday, the day's weather) never looks like months of it.
    drift_window_days: int = Field(7, ge=1)
    live_metrics_table: TableName = "ml.live_metrics"
    drift_table: TableName = "ml.feature_drift"
    alerts_table: TableName = "ml.alerts"
    retrain_requests_table: TableName = "ml.retrain_requests"
    alerts: AlertConfig = Field(default_factory=AlertConfig)
    retrain_on: list[AlertKind] = Field(default_factory=lambda: ["feature_psi", "live_metric"])
    webhook_uri: str | None = None
    webhook_timeout_s: float = Field(5.0, gt=0)


class UseCaseConfig(StrictModel):
    """A use case: sources, cleaning and joins, features, label, and the tables they land in."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    entity: EntityConfig
    date_column: str
    event_time: str
    outcome_delay_days: int = Field(1, ge=0)
    data_range: DateRange | None = None
    sources: dict[Identifier, SourceConfig] = Field(min_length=1)  # a source name is its bronze table's
    clean: CleanConfig
    features: list[FeatureConfig] = Field(min_length=1)
    label: LabelConfig
    tables: TablesConfig
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    promotion: PromotionConfig = Field(default_factory=PromotionConfig)
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)

    @model_validator(mode="after")
    def _references(self) -> UseCaseConfig:
        primary = self.sources.get(self.clean.primary)
        if primary is None:
            raise ValueError(f"clean.primary '{self.clean.primary}' is not a source")
        if primary.kind != "events":
            raise ValueError(f"clean.primary '{self.clean.primary}' must be an 'events' source")
        missing_key = [c for c in self.entity.natural_key if c not in primary.columns]
        if missing_key:
            raise ValueError(f"entity.natural_key {missing_key} are not columns of source '{self.clean.primary}'")
        stray = [n for n, s in self.sources.items() if s.outcome_columns and n != self.clean.primary]
        if stray:
            raise ValueError(f"sources {stray}: outcome_columns belong on the primary source only")
        for i, join in enumerate(self.clean.joins):
            if join.source not in self.sources:
                raise ValueError(f"clean.joins.{i}.source '{join.source}' is not a source")
        unknown = sorted(set(self.validation.tables) - set(self.sources) - {"silver", "features"})
        if unknown:
            raise ValueError(f"validation.tables {unknown}: expected source names, 'silver' or 'features'")
        names = [c for f in self.features for c in f.output_columns()]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"features: duplicate output columns {dupes}")
        unknown = sorted(set(self.training.exclude_features) - {f.name for f in self.features})
        if unknown:
            raise ValueError(f"training.exclude_features {unknown} are not features of the use case")
        return self

    @property
    def model_name(self) -> str:
        """The registered model's name: `training.registered_model`, else the use case's name."""
        return self.training.registered_model or self.name

    @property
    def primary(self) -> SourceConfig:
        return self.sources[self.clean.primary]

    def feature_columns(self, kind: str | None = None) -> list[str]:
        """The feature table's feature columns (of one `kind`: numeric or categorical)."""
        return [c for f in self.features if kind in (None, f.type) for c in f.output_columns()]

    def model_columns(self, kind: str | None = None) -> list[str]:
        """The feature columns the model takes: all but `training.exclude_features`."""
        excluded = set(self.training.exclude_features)
        return [c for f in self.features if kind in (None, f.type) and f.name not in excluded
                for c in f.output_columns()]
