"""Training on the real data (June 20 - July 6, 2013): backends, the MLflow record, the registry, bad input."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import signal
import threading
import time
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from tests.conftest import CONF
from tests.integration.conftest import FAST, WINDOW
from tests.integration.conftest import training_use_case as use_case

from atelier.config.platform import PlatformConfig
from atelier.features.build import run_features
from atelier.model.pyfunc import TabularModel
from atelier.spark.tables import Lake
from atelier.training.backends import TrainingFailed
from atelier.training.dataset import TrainingDataError, build_training_set
from atelier.training.experiments import list_runs, past_run, sweep
from atelier.training.job import TrainReport, predict_batch, train
from atelier.training.loaders import Batch, Columns, read_all
from atelier.training.loop import WorkerSpec

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lake(training_lake: PlatformConfig) -> PlatformConfig:
    return training_lake


@pytest.fixture(scope="module")
def horovod_run(spark: SparkSession, lake: PlatformConfig) -> TrainReport:
    return train(Lake(spark, lake), use_case("training.backend=horovod", "training.num_proc=2"))


def client() -> MlflowClient:
    return MlflowClient()


def test_training_set_is_split_by_time_and_pinned_to_versions(spark, lake) -> None:
    uc = use_case()
    ts = build_training_set(Lake(spark, lake), uc)
    assert ts.splits.train.end < ts.splits.validation.start <= ts.splits.validation.end < ts.splits.test.start
    for split in ("train", "validation", "test"):
        dates = {r[0] for r in ts.raw[split].select("atelier_date").distinct().collect()}
        assert min(dates) >= ts.splits.of(split).start and max(dates) <= ts.splits.of(split).end
        assert read_all(ts.files(split), Columns(ts.numeric, ts.categorical)).label.shape[0] == ts.rows[split]
    assert ts.versions == {n: Lake(spark, lake).version(n) for n in (uc.tables.features, uc.tables.outcomes)}
    # The table moves on (a rerun of one day is a new version); the pinned versions still read the same rows.
    run_features(Lake(spark, lake), uc, dt.date(2013, 6, 25), dt.date(2013, 6, 25))
    assert Lake(spark, lake).version(uc.tables.features) > ts.versions[uc.tables.features]
    again = build_training_set(Lake(spark, lake), uc, ts.versions)
    assert again.fingerprint == ts.fingerprint and again.rows == ts.rows
    # Vocabularies are fit on train only: index 0 is the out-of-vocabulary bucket.
    assert all(v[0] == "<OOV>" for v in ts.preprocessor.vocab.values())


def test_horovod_with_two_processes_beats_chance_on_held_out_days(horovod_run) -> None:
    assert horovod_run.metrics["test_auc"] > 0.6, horovod_run.metrics
    run = client().get_run(horovod_run.run_id)
    assert run.data.params["training.backend"] == "horovod" and run.data.params["training.num_proc"] == "2"


def test_torch_distributor_with_two_processes_beats_chance(spark, lake) -> None:
    report = train(
        Lake(spark, lake), use_case("training.backend=torch_distributor", "training.num_proc=2"), register=False
    )
    assert report.metrics["test_auc"] > 0.6, report.metrics


def test_the_run_holds_the_whole_training_record(horovod_run, lake) -> None:
    run = client().get_run(horovod_run.run_id)
    tags, params, metrics = run.data.tags, run.data.params, run.data.metrics
    # who and when
    assert tags["mlflow.user"] and run.info.start_time < run.info.end_time and run.info.status == "FINISHED"
    # the full configuration: params and the resolved YAML
    assert params["training.model.name"] == "mlp" and params["label.expr"] == "arr_delay >= 15"
    config = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/config/use_case.yaml")
    assert "window:" in config and "arr_delay >= 15" in config
    # input tables with Delta versions and row counts, as dataset inputs
    inputs = {d.dataset.name: d.dataset for d in run.inputs.dataset_inputs}
    assert set(inputs) == {"gold.flight_features", "ml.outcomes"}
    for name, dataset in inputs.items():
        assert json.loads(dataset.source)["delta_table_version"] == int(tags[f"input.{name}.version"])
        assert json.loads(dataset.profile)["num_rows"] > 10000
    # code and packages
    assert len(tags["git.commit"]) == 40 and tags["package.torch"].startswith("2.13")
    artifacts = set(_all_artifacts(run.info.run_id))
    assert "environment/packages.txt" in artifacts
    # feature distributions, importance, reference profile
    profile = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/profile/reference_profile.json")
    assert profile["features"]["distance"]["type"] == "numeric"
    assert sum(profile["features"]["carrier"]["shares"]) == pytest.approx(1.0)
    importance = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/importance/permutation_importance.json")
    assert set(importance) >= {"distance", "carrier", "wx_visib"}
    # metrics and charts
    for name in ("auc", "log_loss", "accuracy", "precision", "recall", "calibration_error"):
        assert f"test_{name}" in metrics and f"validation_{name}" in metrics
    assert {
        "charts/roc.png",
        "charts/precision_recall.png",
        "charts/confusion_matrix.png",
        "charts/calibration.png",
        "charts/training_curves.png",
        "charts/layer_dynamics.png",
        "profile/feature_histograms.png",
        "importance/importance.png",
        "graph/graph.png",
        "graph/summary.txt",
        "parameters/learned_parameters.pt",
        "parameters/summary.tsv",
    } <= artifacts
    # training dynamics as metric series
    history = client().get_metric_history(run.info.run_id, "train_loss")
    assert len(history) > 3 and history[-1].value < history[0].value
    assert len(client().get_metric_history(run.info.run_id, "val_auc")) == 3  # one per epoch
    for stat in ("activation_var", "gradient_var", "update_to_weight"):
        assert len(client().get_metric_history(run.info.run_id, f"dynamics/body.0/{stat}")) > 1
    # the model, registered
    version = client().get_model_version("flights_delay", horovod_run.model_version)
    assert version.run_id == run.info.run_id and version.tags["use_case"] == "flights_delay"


def _all_artifacts(run_id: str, path: str | None = None) -> list[str]:
    out = []
    for item in client().list_artifacts(run_id, path):
        out += _all_artifacts(run_id, item.path) if item.is_dir else [item.path]
    return out


def test_registered_pyfunc_predicts_what_the_trained_network_does(spark, lake, horovod_run) -> None:
    """Raw feature rows through the registry's pyfunc == their encoded shards through the trained network."""
    uc = use_case()
    ts = build_training_set(Lake(spark, lake), uc)
    raw = ts.raw["test"].withColumn("row_id", F.xxhash64("atelier_key")).orderBy("atelier_key").limit(500).toPandas()
    model = mlflow.pyfunc.load_model(f"models:/flights_delay/{horovod_run.model_version}")
    served = model.predict(raw[uc.model_columns()])
    assert list(served.columns) == ["score", "prediction"] and served["score"].between(0, 1).all()
    assert ((served["score"] >= 0.5).astype(int) == served["prediction"]).all()

    inner = model.unwrap_python_model()
    assert isinstance(inner, TabularModel)
    encoded = read_all(ts.files("test"), Columns(ts.numeric, ts.categorical))
    position = {int(i): n for n, i in enumerate(encoded.row_id.tolist())}
    rows = [position[int(i)] for i in raw["row_id"]]
    subset = Batch(encoded.numeric[rows], encoded.categorical[rows], encoded.label[rows], encoded.row_id[rows])
    spec = WorkerSpec(
        model=inner.spec,
        columns=Columns(ts.numeric, ts.categorical),
        train_files=[],
        validation_files=[],
        label_scale=inner.label_scale,
    )
    np.testing.assert_allclose(predict_batch(inner.net, subset, spec), served["score"].to_numpy(), atol=1e-6)


def test_regression_label_trains_the_linear_model(spark, lake) -> None:
    uc = use_case(
        "label.task=regression",
        "label.name=arr_delay_minutes",
        "label.expr=arr_delay",
        "training.backend=local",
        "training.model.name=linear",
        "training.model.params={}",
        "training.learning_rate=0.02",
        "training.epochs=4",
    )
    report = train(Lake(spark, lake), uc, register=False)
    assert {"test_rmse", "test_mae", "test_r2"} <= set(report.metrics)
    assert all(np.isfinite(v) for v in report.metrics.values()), report.metrics
    # It learns: predictions follow the delays of the validation days (whose mean differs from June's).
    validation = build_training_set(Lake(spark, lake), uc).raw["validation"].toPandas()
    predicted = mlflow.pyfunc.load_model(f"runs:/{report.run_id}/model").predict(validation[uc.model_columns()])
    assert np.corrcoef(predicted["score"], validation["atelier_label"])[0, 1] > 0.15
    artifacts = set(_all_artifacts(report.run_id))
    assert {"charts/residuals.png", "parameters/coefficients.tsv"} <= artifacts


def test_from_run_reruns_the_same_data_versions_with_changes(spark, lake, horovod_run) -> None:
    past = past_run(lake, horovod_run.run_id, ["training.backend=local", "training.epochs=1"])
    assert past.use_case.training.backend == "local" and past.use_case.training.learning_rate == 0.002
    assert past.versions == {
        k: int(v)
        for k, v in json.loads(
            client().get_model_version("flights_delay", horovod_run.model_version).tags["data_versions"]
        ).items()
    }
    report = train(
        Lake(spark, lake), past.use_case, versions=past.versions, tags={"atelier.from_run": past.run_id}, register=False
    )
    rerun = client().get_run(report.run_id)
    assert rerun.data.tags["atelier.from_run"] == horovod_run.run_id
    assert {k: v for k, v in rerun.data.tags.items() if k.endswith(".version")} == {
        k: v for k, v in client().get_run(horovod_run.run_id).data.tags.items() if k.endswith(".version")
    }


def test_sweep_runs_trials_as_children_and_names_the_best(spark, lake) -> None:
    base = [*WINDOW, *FAST, "training.backend=local", "training.epochs=1"]
    parent, results, best = sweep(
        Lake(spark, lake), "flights_delay", base, {"training.learning_rate": ["0.0003", "0.003"]}, conf_dir=CONF
    )
    children = mlflow.search_runs(filter_string=f"tags.mlflow.parentRunId = '{parent}'")
    assert len(children) == 2 == len(results)
    assert best.metrics["validation_auc"] == max(r.metrics["validation_auc"] for _, r in results)
    assert client().get_run(parent).data.tags["best_run_id"] == best.run_id
    assert client().get_model_version("flights_delay", best.model_version).run_id == best.run_id
    listed = list_runs(lake, "flights_delay", "tags.`atelier.kind` = 'trial'")
    assert set(listed["run_id"]) >= {r.run_id for _, r in results}


def test_a_sweep_with_parallel_trials_records_every_trial_in_the_sqlite_store(spark, lake) -> None:
    """Four trials at once (threads of the job) write their runs to one SQLite store: all of each run is there."""
    rates = ["0.0003", "0.001", "0.003", "0.01"]
    base = [*WINDOW, *FAST, "training.backend=local", "training.epochs=1", "training.parallel_trials=4"]
    parent, results, best = sweep(
        Lake(spark, lake), "flights_delay", base, {"training.learning_rate": rates}, conf_dir=CONF
    )
    assert lake.mlflow.tracking_uri.startswith("sqlite:")
    runs = [client().get_run(r.run_id) for _, r in results]
    assert {r.data.tags["mlflow.parentRunId"] for r in runs} == {parent}
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert sorted(r.data.params["training.learning_rate"] for r in runs) == sorted(rates)
    for run in runs:
        assert {"validation_auc", "test_auc", "wall_s"} <= set(run.data.metrics)
        assert len(client().get_metric_history(run.info.run_id, "train_loss")) > 1
        artifacts = set(_all_artifacts(run.info.run_id))
        assert {"config/use_case.yaml", "importance/permutation_importance.json"} <= artifacts
    assert client().get_model_version("flights_delay", best.model_version).run_id == best.run_id
    # The trials overlapped in time: at some instant, this many runs were open together.
    edges = sorted([(r.info.start_time, 1) for r in runs] + [(r.info.end_time, -1) for r in runs])
    open_together = max(itertools.accumulate(step for _, step in edges))
    print(f"parallel sweep: {len(runs)} trials, at most {open_together} open together")
    assert open_together >= 2


@pytest.mark.parametrize(
    "overrides, match",
    [
        (["training.window.start=2014-01-01", "training.window.end=2014-01-31"], "no labeled rows"),
        (["label.expr=arr_delay > 100000"], "single class"),
        (["features.0.name=carrier_code"], r"feature columns \['carrier_code'\] are missing from gold.flight_features"),
    ],
)
def test_unusable_training_data_is_refused_with_the_reason(spark, lake, overrides, match) -> None:
    with pytest.raises(TrainingDataError, match=match):
        build_training_set(Lake(spark, lake), use_case(*overrides))


def test_a_nan_loss_fails_the_run_and_marks_it_failed(spark, lake) -> None:
    with pytest.raises(TrainingFailed, match="TrainingDiverged: loss is (nan|inf)"):
        train(
            Lake(spark, lake),
            use_case("training.backend=horovod", "training.num_proc=2", "training.learning_rate=1e30"),
        )
    failed = mlflow.search_runs(filter_string="attributes.status = 'FAILED'", order_by=["attributes.start_time DESC"])
    assert "TrainingDiverged" in failed.iloc[0]["tags.atelier.error"]


@pytest.mark.e2e
def test_a_killed_worker_fails_the_job_with_its_error_not_a_hang(spark, lake) -> None:
    """kill -9 rank 1 mid-training: the call fails promptly and names the failure."""
    uc = use_case(
        "training.backend=horovod", "training.num_proc=2", "training.epochs=200", "training.start_timeout_s=30"
    )
    runs_dir = Path(lake.cache_dir).resolve() / "runs"
    before = set(runs_dir.glob("*")) if runs_dir.exists() else set()

    def kill_rank_1() -> None:
        deadline = time.time() + 120
        while time.time() < deadline:
            for path in runs_dir.glob("*/rank-1.json") if runs_dir.exists() else []:
                beat = json.loads(path.read_text())
                if path.parent not in before and beat["step"] > 0:
                    os.kill(beat["pid"], signal.SIGKILL)
                    return
            time.sleep(0.2)

    killer = threading.Thread(target=kill_rank_1, daemon=True)
    killer.start()
    started = time.time()
    with pytest.raises(TrainingFailed, match="horovod training with 2 process"):
        train(Lake(spark, lake), uc)
    assert time.time() - started < 240
    killer.join(1)
