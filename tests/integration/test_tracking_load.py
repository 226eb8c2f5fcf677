"""The embedded SQLite tracking store under load: processes that open a new store together and write at once."""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.synchronize import Barrier

import mlflow
import pandas as pd
import pytest
from mlflow.entities import Metric

from atelier.config.platform import MlflowConfig, PlatformConfig
from atelier.tracking import store

pytestmark = pytest.mark.e2e

WRITERS = 6
POINTS = 2000  # metric points per run, logged in batches of 500 (as record.log_series does, by 1000)
MODEL = "load_test"
_start: Barrier | None = None


class Constant(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input: pd.DataFrame) -> pd.Series:
        return pd.Series([0.5] * len(model_input))


def _wait_for_all(barrier: Barrier) -> None:
    global _start
    _start = barrier


def _trial(platform_json: str, i: int) -> tuple[str, str, float]:
    """One writer: an experiment, a run with params, metrics and a model, and a registered version."""
    platform = PlatformConfig.model_validate_json(platform_json)
    _start.wait(timeout=120)  # every process opens the new store in the same instant
    started = time.time()
    store.experiment(platform, "load")
    with mlflow.start_run(run_name=f"trial-{i}", tags={"atelier.kind": "trial"}) as run:
        mlflow.log_params({f"p{k}": f"{i}-{k}" for k in range(50)})
        now = int(time.time() * 1000)
        points = [Metric("train_loss", 1.0 / (s + 1), now, s) for s in range(POINTS)]
        for b in range(0, POINTS, 500):
            mlflow.MlflowClient().log_batch(run.info.run_id, metrics=points[b : b + 500])
        mlflow.log_metrics({"validation_auc": 0.5 + i / 100, "test_auc": 0.5 + i / 200})
        info = mlflow.pyfunc.log_model(
            name="model", python_model=Constant(), pip_requirements=["pandas"], registered_model_name=MODEL
        )
    return run.info.run_id, str(info.registered_model_version), time.time() - started


def test_parallel_writers_on_a_new_sqlite_store_lose_nothing(tmp_path) -> None:
    """WRITERS processes open one new SQLite store together; every run, metric and version is there."""
    platform = PlatformConfig(
        mlflow=MlflowConfig(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", artifact_root=str(tmp_path / "artifacts"))
    )
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        WRITERS, mp_context=context, initializer=_wait_for_all, initargs=(context.Barrier(WRITERS),)
    ) as pool:
        done = list(pool.map(_trial, [platform.model_dump_json()] * WRITERS, range(WRITERS)))
    store.use_platform(platform)
    client = mlflow.MlflowClient()
    runs = {r.info.run_id: r for r in client.search_runs([store.experiment(platform, "load")], max_results=100)}
    assert set(runs) == {run_id for run_id, _, _ in done}
    assert {r.info.status for r in runs.values()} == {"FINISHED"}
    for run_id, run in runs.items():
        assert len(run.data.params) == 50 and {"validation_auc", "test_auc"} <= set(run.data.metrics)
        assert len(client.get_metric_history(run_id, "train_loss")) == POINTS
    versions = client.search_model_versions(f"name = '{MODEL}'")
    assert sorted(int(v.version) for v in versions) == list(range(1, WRITERS + 1))
    assert {v.run_id for v in versions} == set(runs) and {v.status for v in versions} == {"READY"}
    print(f"{WRITERS} writers, slowest {max(s for _, _, s in done):.1f} s")
