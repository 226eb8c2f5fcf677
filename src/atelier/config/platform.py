"""The platform configuration: where things live, how Spark, MLflow and Airflow run, how writes retry."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from atelier.config.common import Identifier, StrictModel


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
        return {
            k: (str(v).lower() if isinstance(v, bool) else str(v) if isinstance(v, int | float) else v)
            for k, v in value.items()
        }


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
