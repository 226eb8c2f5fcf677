"""Point MLflow at the platform's tracking store and registry, and at a use case's experiment."""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException

from atelier.config.platform import PlatformConfig

log = logging.getLogger(__name__)

SQLITE = "sqlite:///"
_initialized: set[str] = set()


def resolve_uri(uri: str) -> str:
    """A relative SQLite path becomes absolute (its folder created), so any working directory finds it."""
    if uri.startswith(SQLITE) and not uri.startswith(SQLITE + "/"):
        path = Path(uri[len(SQLITE) :]).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"{SQLITE}{path}"
    return uri


def use_platform(platform: PlatformConfig) -> str:
    """Set MLflow's tracking and registry URIs from the platform; the tracking URI."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # job logs, not terminal bars
    uri = resolve_uri(platform.mlflow.tracking_uri)
    registry = resolve_uri(platform.mlflow.registry_uri or platform.mlflow.tracking_uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(registry)
    for store_uri in {uri, registry}:
        initialize(store_uri)
    return uri


def initialize(uri: str) -> None:
    """Create a SQLite store's tables once per file, under an exclusive lock on `<file>.lock`.

    Processes that open a new SQLite file together run MLflow's schema migrations together, and
    all but one fail (alembic: "table ... already exists", "expected to match one row"); once the
    tables exist, concurrent writers only wait on SQLite's lock (MLflow sets busy_timeout 20 s).
    """
    if not uri.startswith(SQLITE) or uri in _initialized:
        return
    path = Path(uri[len(SQLITE) :])
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / f"{path.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        client = mlflow.MlflowClient(uri, uri)
        client.search_experiments(max_results=1)
        client.search_registered_models(max_results=1)
    _initialized.add(uri)


def experiment(platform: PlatformConfig, use_case: str) -> str:
    """The use case's experiment (created with its artifacts under `artifact_root`); its id."""
    use_platform(platform)
    name = f"{platform.mlflow.experiment_prefix}{use_case}"
    found = mlflow.get_experiment_by_name(name)
    if found:
        experiment_id = found.experiment_id
    else:
        root = Path(platform.mlflow.artifact_root)
        location = (
            root.resolve().as_uri() if "://" not in platform.mlflow.artifact_root else platform.mlflow.artifact_root
        )
        try:
            experiment_id = mlflow.create_experiment(name, artifact_location=f"{location}/{use_case}")
            log.info("created MLflow experiment %s", name)
        except MlflowException as exc:  # another process created it since the lookup
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            existing = mlflow.get_experiment_by_name(name)
            if existing is None:  # created and deleted since: not the race this handles
                raise
            experiment_id = existing.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id
