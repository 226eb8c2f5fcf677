"""Point MLflow at the platform's tracking store and registry, and at a use case's experiment."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import mlflow

from atelier.config.schema import PlatformConfig

log = logging.getLogger(__name__)

SQLITE = "sqlite:///"


def resolve_uri(uri: str) -> str:
    """A relative SQLite path becomes absolute (its folder created), so any working directory finds it."""
    if uri.startswith(SQLITE) and not uri.startswith(SQLITE + "/"):
        path = Path(uri[len(SQLITE):]).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"{SQLITE}{path}"
    return uri


def use_platform(platform: PlatformConfig) -> str:
    """Set MLflow's tracking and registry URIs from the platform; the tracking URI."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # job logs, not terminal bars
    uri = resolve_uri(platform.mlflow.tracking_uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(resolve_uri(platform.mlflow.registry_uri or platform.mlflow.tracking_uri))
    return uri


def experiment(platform: PlatformConfig, use_case: str) -> str:
    """The use case's experiment (created with its artifacts under `artifact_root`); its id."""
    use_platform(platform)
    name = f"{platform.mlflow.experiment_prefix}{use_case}"
    found = mlflow.get_experiment_by_name(name)
    if found:
        experiment_id = found.experiment_id
    else:
        root = Path(platform.mlflow.artifact_root)
        location = root.resolve().as_uri() if "://" not in platform.mlflow.artifact_root else platform.mlflow.artifact_root
        experiment_id = mlflow.create_experiment(name, artifact_location=f"{location}/{use_case}")
        log.info("created MLflow experiment %s", name)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id
