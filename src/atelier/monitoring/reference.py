"""What a registered model version was trained on: its reference profiles, importance and test metrics."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import mlflow
from mlflow.exceptions import MlflowException

from atelier.tracking.registry import RegistryError


@dataclass(frozen=True)
class Reference:
    model: str
    version: str
    run_id: str
    features: dict[str, dict]  # the training window's reference profile per feature
    score: dict | None  # the test window's score distribution (None for models trained before it was logged)
    importance: dict[str, float]  # permutation importance on validation, most important first
    test_metrics: dict[str, float]

    def important(self, n: int) -> list[str]:
        """The `n` most important features (every profiled feature when importance is unknown)."""
        ranked = [f for f in self.importance if f in self.features] or list(self.features)
        return ranked[:n]


@lru_cache(maxsize=32)
def load_reference(model: str, version: str) -> Reference:
    """The reference of `model` version `version`, read from its training run's artifacts."""
    client = mlflow.MlflowClient()
    run_id = client.get_model_version(model, version).run_id
    if not run_id:
        raise RegistryError(f"{model} version {version} has no training run to take a reference profile from")
    run = client.get_run(run_id)
    profile = _artifact(run_id, "profile/reference_profile.json")
    if profile is None:
        raise RegistryError(f"{model} version {version}: run {run_id} has no profile/reference_profile.json")
    return Reference(
        model=model,
        version=str(version),
        run_id=run_id,
        features=profile["features"],
        score=_artifact(run_id, "profile/score_profile.json"),
        importance=_artifact(run_id, "importance/permutation_importance.json") or {},
        test_metrics={k[len("test_") :]: v for k, v in run.data.metrics.items() if k.startswith("test_")},
    )


def _artifact(run_id: str, path: str) -> dict | None:
    try:
        return mlflow.artifacts.load_dict(f"runs:/{run_id}/{path}")
    except (MlflowException, OSError):
        return None
