"""The train job: training set -> distributed training -> evaluation -> one complete MLflow run -> registry.

Everything a person needs to find, trust and rerun the model is in the run: who and when (MLflow's
user tag and run times), the resolved configuration, the input tables at their Delta versions,
the code and package versions, feature distributions, importance and reference profile, metrics
and charts, training dynamics, the graph and the learned parameters, and the pyfunc model
registered as a new version of the use case's model.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import numpy as np
import pyarrow.parquet as pq
import torch
from mlflow.models import infer_signature

import atelier
from atelier.config.use_case import UseCaseConfig
from atelier.errors import AtelierError
from atelier.model.metrics import daily_headline, headline, permutation_importance, task_metrics
from atelier.model.networks import ModelSpec, build_model, output_to_score
from atelier.model.pyfunc import TabularModel, write_model_files
from atelier.spark.tables import Lake
from atelier.tracking import charts, record, store
from atelier.tracking.profile import reference_profile, score_profile
from atelier.training.backends import Launch, train_with
from atelier.training.dataset import DATE, TrainingSet, build_training_set
from atelier.training.loaders import Batch, Columns, read_all
from atelier.training.loop import WorkerSpec, load_state

log = logging.getLogger(__name__)

PINNED_REQUIREMENTS = ("torch", "numpy", "pandas", "pyarrow", "mlflow", "scikit-learn")
# Trials of a sweep may run in threads; their training sets share encoded shards (one fingerprint), built once.
_BUILDING = threading.Lock()


@dataclass
class TrainReport:
    run_id: str
    model_name: str
    model_version: str | None
    metrics: dict[str, float] = field(default_factory=dict)
    launch_seconds: float = 0.0
    wall_seconds: float = 0.0
    samples_per_s: float = 0.0


def train(
    lake: Lake,
    use_case: UseCaseConfig,
    versions: dict[str, int] | None = None,
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
    register: bool = True,
    parent_run_id: str | None = None,
) -> TrainReport:
    """Train `use_case` as configured; `versions` pins the input tables (else their current versions).

    The model is always logged with the run; `register` also makes it a new version in the registry.
    The run is a child of the active run, or of `parent_run_id` (from another thread).
    """
    with _BUILDING:
        training_set = build_training_set(lake, use_case, versions)
    try:
        return _train_and_record(lake, use_case, training_set, run_name, tags, register, parent_run_id)
    finally:
        training_set.release()


def _train_and_record(
    lake: Lake,
    use_case: UseCaseConfig,
    training_set: TrainingSet,
    run_name: str | None,
    tags: dict[str, str] | None,
    register: bool,
    parent_run_id: str | None,
) -> TrainReport:
    cfg = use_case.training
    store.experiment(lake.platform, use_case.name)
    nested = mlflow.active_run() is not None
    with mlflow.start_run(
        run_name=run_name,
        nested=nested,
        parent_run_id=parent_run_id,
        tags={"atelier.use_case": use_case.name, **(tags or {})},
    ) as run:
        run_id = run.info.run_id
        log.info(
            "MLflow run %s (%s backend, %d process(es), %s loader)",
            run_id,
            cfg.backend,
            1 if cfg.backend == "local" else cfg.num_proc,
            cfg.loader,
        )
        record.log_config(use_case, lake.platform)
        _log_data(lake, training_set)
        record.log_environment()
        spec = worker_spec(use_case, training_set, Path(lake.platform.cache_dir).resolve() / "runs" / run_id)
        try:
            launch = train_with(lake.spark, spec, cfg.backend, cfg.num_proc, cfg.start_timeout_s)
        except AtelierError as exc:
            mlflow.set_tag("atelier.error", str(exc)[:5000])
            raise
        model = load_state(build_model(spec.model), launch.result.state_dict).eval()
        report = TrainReport(run_id=run_id, model_name=use_case.model_name, model_version=None)
        _log_training(launch, report)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            report.metrics = _evaluate(model, spec, use_case, training_set, folder)
            record.log_graph(model, folder)
            record.log_parameters(model, spec.model.numeric, training_set.preprocessor.vocab, folder)
            report.model_version = _log_model(launch, spec, use_case, training_set, folder, register)
        log.info(
            "run %s: %s",
            run_id,
            ", ".join(f"{k}={v:.4f}" for k, v in sorted(report.metrics.items()) if k.startswith("test_")),
        )
        return report


def worker_spec(use_case: UseCaseConfig, ts: TrainingSet, work_dir: Path | None) -> WorkerSpec:
    """What every rank needs to train `use_case` on `ts`; `work_dir` gets the ranks' heartbeats and errors."""
    cfg = use_case.training
    model = ModelSpec(
        name=cfg.model.name,
        task=use_case.label.task,
        numeric=ts.numeric,
        categorical=ts.categorical,
        cardinalities=ts.preprocessor.cardinalities(),
        params=dict(cfg.model.params),
    )
    return WorkerSpec(
        model=model,
        columns=Columns(ts.numeric, ts.categorical),
        train_files=ts.files("train"),
        validation_files=ts.files("validation"),
        loader=cfg.loader,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        seed=cfg.seed,
        log_every_steps=cfg.log_every_steps,
        dynamics_every_steps=cfg.dynamics_every_steps,
        use_gpu=cfg.use_gpu,
        positive_rate=ts.positives["train"] / ts.rows["train"],
        label_scale=ts.label_scale,
        work_dir=str(work_dir) if work_dir else None,
    )


def _log_data(lake: Lake, ts: TrainingSet) -> None:
    """Inputs at their versions, split sizes and dates, and the training features' reference profile."""
    record.log_inputs(
        {
            name: (str(lake.path(name)), version, lake.read(name, version).count())
            for name, version in ts.versions.items()
        }
    )
    mlflow.log_params(
        {
            **{f"data.{s}_rows": n for s, n in ts.rows.items()},
            **{f"data.{s}_dates": f"{ts.splits.of(s).start}..{ts.splits.of(s).end}" for s in ts.rows},
            "data.fingerprint": ts.fingerprint,
        }
    )
    profile = reference_profile(ts.raw["train"], ts.numeric, ts.categorical)
    mlflow.log_dict(profile, "profile/reference_profile.json")
    mlflow.log_dict(ts.preprocessor.to_dict(), "profile/preprocessor.json")
    with tempfile.TemporaryDirectory() as tmp:
        mlflow.log_artifact(str(charts.histograms_chart(profile, Path(tmp) / "feature_histograms.png")), "profile")


def _log_training(launch: Launch, report: TrainReport) -> None:
    result = launch.result
    record.log_series(result.series)
    t = result.timings
    report.launch_seconds, report.wall_seconds = launch.launch_seconds, launch.wall_seconds
    report.samples_per_s = t["samples"] * result.size / max(t["train_seconds"], 1e-9)
    mlflow.log_metrics(
        {
            "time_to_first_step_s": report.launch_seconds,
            "wall_s": report.wall_seconds,
            "train_s": t["train_seconds"],
            "samples_per_s": report.samples_per_s,
            "loader_share": t["loader_seconds"] / max(t["train_seconds"], 1e-9),
            "steps": t["steps"],
            **{f"epoch_s_{k.split('_')[1]}": v for k, v in t.items() if k.startswith("epoch_")},
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        for path in charts.dynamics_charts(result.series, Path(tmp)):
            mlflow.log_artifact(str(path), "charts")


def predict_batch(model: torch.nn.Module, batch: Batch, spec: WorkerSpec) -> np.ndarray:
    with torch.no_grad():
        out = model(batch.numeric, batch.categorical)
    return output_to_score(out, spec.model.task, spec.label_scale).double().numpy()


def _evaluate(
    model: torch.nn.Module, spec: WorkerSpec, use_case: UseCaseConfig, ts: TrainingSet, folder: Path
) -> dict[str, float]:
    """Validation and test metrics, test charts, and permutation importance on validation."""
    task, threshold = use_case.label.task, use_case.training.threshold
    found: dict[str, float] = {}
    held_out = {split: read_all(ts.files(split), spec.columns) for split in ("validation", "test")}
    for split, batch in held_out.items():
        score = predict_batch(model, batch, spec)
        label = batch.label.double().numpy()
        found.update({f"{split}_{k}": v for k, v in task_metrics(task, label, score, threshold).items()})
    days = (
        pq.ParquetDataset(sorted(ts.files("test"))).read(columns=[DATE]).column(DATE).to_numpy()
    )  # read_all's row order
    daily = daily_headline(task, label, score, days, threshold)
    if daily is not None:
        found[f"test_daily_{headline(task)[0]}"] = daily  # what monitoring compares a live day with
    mlflow.log_metrics(found)
    mlflow.log_dict(score_profile(score), "profile/score_profile.json")  # the test window's, for score drift
    test_charts = (
        charts.binary_charts(label, score, threshold, folder / "charts")
        if task == "binary"
        else charts.regression_charts(label, score, folder / "charts")
    )
    for path in test_charts:
        mlflow.log_artifact(str(path), "charts")
    val = held_out["validation"]

    def score_fn(numeric: np.ndarray, categorical: np.ndarray) -> np.ndarray:
        return predict_batch(
            model, Batch(torch.from_numpy(numeric), torch.from_numpy(categorical), val.label, val.row_id), spec
        )

    importance = permutation_importance(
        score_fn,
        val.numeric.numpy(),
        val.categorical.numpy(),
        val.label.double().numpy(),
        ts.numeric + ts.categorical,
        task,
        use_case.training.importance_repeats,
        use_case.training.seed,
    )
    mlflow.log_dict(importance, "importance/permutation_importance.json")
    metric, _ = headline(task)
    mlflow.log_artifact(str(charts.importance_chart(importance, metric, folder / "importance.png")), "importance")
    return found


def _log_model(
    launch: Launch, spec: WorkerSpec, use_case: UseCaseConfig, ts: TrainingSet, folder: Path, register: bool
) -> str | None:
    """The pyfunc (signature, input example, code) logged, and registered: the new version's number."""
    artifacts = write_model_files(
        folder / "model_files",
        spec.model,
        ts.preprocessor,
        ts.label_scale,
        use_case.training.threshold,
        launch.result.state_dict,
    )
    example = ts.raw["validation"].select(*use_case.model_columns()).limit(5).toPandas()
    local = TabularModel().load(Path(artifacts["spec"]), Path(artifacts["weights"]))
    with warnings.catch_warnings():  # the int `prediction` column is never missing: MLflow's hint does not apply
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
        signature = infer_signature(example, local.predict(None, example))
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=TabularModel(),
        artifacts=artifacts,
        signature=signature,
        input_example=example,
        code_paths=[str(Path(atelier.__file__).parent)],
        pip_requirements=_requirements(),
        registered_model_name=use_case.model_name if register else None,
    )
    if not register:
        return None
    version = str(info.registered_model_version)
    client, run = mlflow.MlflowClient(), mlflow.active_run()
    assert run is not None  # the model is logged in train's run
    for key, value in {
        "use_case": use_case.name,
        "run_id": run.info.run_id,
        "data_versions": json.dumps(ts.versions),
        "task": use_case.label.task,
    }.items():
        client.set_model_version_tag(use_case.model_name, version, key, value)
    mlflow.set_tag("atelier.model_version", version)
    log.info("registered %s version %s", use_case.model_name, version)
    return version


def _requirements() -> list[str]:
    import importlib.metadata

    return [f"{name}=={importlib.metadata.version(name)}" for name in PINNED_REQUIREMENTS]
