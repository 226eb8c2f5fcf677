"""Experiments over training runs: rerun a past run (optionally changed), sweep a grid, list runs."""

from __future__ import annotations

import itertools
import json
import logging
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import mlflow
import yaml

from atelier.config.loader import load_use_case, use_case_from_mapping
from atelier.config.platform import PlatformConfig
from atelier.config.use_case import UseCaseConfig
from atelier.errors import ConfigError
from atelier.model.metrics import headline
from atelier.spark.tables import Lake
from atelier.tracking import record, store
from atelier.training.job import TrainReport, train

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PastRun:
    run_id: str
    use_case: UseCaseConfig
    versions: dict[str, int]


def past_run(platform: PlatformConfig, run_id: str, overrides: list[str]) -> PastRun:
    """A past run's resolved configuration (with `overrides` applied) and the input versions it read."""
    store.use_platform(platform)
    client = mlflow.MlflowClient()
    try:
        run = client.get_run(run_id)
    except mlflow.exceptions.MlflowException as exc:
        raise ConfigError(f"--from-run {run_id}: no such MLflow run in {mlflow.get_tracking_uri()} ({exc})") from None
    try:
        text = mlflow.artifacts.load_text(f"runs:/{run_id}/config/use_case.yaml")
    except Exception as exc:
        raise ConfigError(f"--from-run {run_id}: the run has no config/use_case.yaml artifact ({exc})") from None
    use_case = use_case_from_mapping(yaml.safe_load(text), f"run {run_id}: config/use_case.yaml", overrides)
    return PastRun(run_id=run_id, use_case=use_case, versions=record.input_versions(run.data.tags))


def parse_grid(items: list[str]) -> dict[str, list[str]]:
    """`KEY=V1|V2|...` items (values in YAML) -> {key: [values]}."""
    grid = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not values:
            raise ConfigError(f"--grid {item}: expected KEY=VALUE1|VALUE2|..., e.g. training.learning_rate=0.001|0.003")
        grid[key] = values.split("|")
    return grid


def trials(grid: dict[str, list[str]], random_trials: int | None, seed: int) -> list[list[str]]:
    """Every combination (grid search), or `random_trials` of them drawn without replacement."""
    keys = list(grid)
    combos = [[f"{k}={v}" for k, v in zip(keys, values)] for values in itertools.product(*grid.values())]
    if random_trials is not None and random_trials < len(combos):
        combos = random.Random(seed).sample(combos, random_trials)
    return combos


def sweep(
    lake: Lake,
    name: str,
    base_overrides: list[str],
    grid: dict[str, list[str]],
    random_trials: int | None = None,
    seed: int = 13,
    conf_dir=None,
    env: str | None = None,
) -> tuple[str, list[tuple[list[str], TrainReport]], TrainReport]:
    """Trials as child runs of one parent run; the best by validation headline metric is named and registered.

    `training.parallel_trials` trials train at once, each in a thread with its own child run.
    """
    combos = trials(grid, random_trials, seed)
    # Validate every trial's configuration before anything trains.
    configs = [load_use_case(name, conf_dir, env, base_overrides + combo) for combo in combos]
    store.experiment(lake.platform, name)
    parallel = configs[0].training.parallel_trials
    with mlflow.start_run(run_name=f"sweep-{name}", tags={"atelier.use_case": name, "atelier.kind": "sweep"}) as parent:
        mlflow.log_dict(
            {"grid": grid, "random_trials": random_trials, "seed": seed, "trials": combos, "parallel_trials": parallel},
            "sweep/grid.json",
        )

        def run_trial(i: int) -> tuple[list[str], TrainReport]:
            log.info("trial %d/%d: %s", i + 1, len(combos), " ".join(combos[i]))
            return combos[i], train(
                lake,
                configs[i],
                run_name=f"trial-{i}",
                register=False,
                tags={"atelier.kind": "trial", "atelier.trial": " ".join(combos[i])},
                parent_run_id=parent.info.run_id,
            )

        with ThreadPoolExecutor(parallel, thread_name_prefix="trial") as pool:
            results: list[tuple[list[str], TrainReport]] = list(pool.map(run_trial, range(len(combos))))
        metric, higher = headline(configs[0].label.task)
        key = f"validation_{metric}"
        best_combo, best = (max if higher else min)(results, key=lambda r: r[1].metrics[key])
        version = mlflow.register_model(f"runs:/{best.run_id}/model", configs[0].model_name).version
        best.model_version = str(version)
        mlflow.set_tags(
            {"best_run_id": best.run_id, "best_trial": " ".join(best_combo), "best_model_version": str(version)}
        )
        mlflow.log_metric(f"best_{key}", best.metrics[key])
        summary = [{"trial": " ".join(c), "run_id": r.run_id, key: r.metrics[key]} for c, r in results]
        mlflow.log_dict(summary, "sweep/results.json")  # type: ignore[arg-type]  # typed dict, logs any JSON value
    return parent.info.run_id, results, best


def list_runs(platform: PlatformConfig, use_case: str, filter_string: str = "", max_results: int = 20):
    """Past runs of a use case, newest first, as a pandas frame of the columns a person scans."""
    store.use_platform(platform)
    experiment = mlflow.get_experiment_by_name(f"{platform.mlflow.experiment_prefix}{use_case}")
    if experiment is None:
        raise ConfigError(f"no runs yet for use case '{use_case}' in {mlflow.get_tracking_uri()}")
    try:
        runs = mlflow.search_runs(
            [experiment.experiment_id],
            filter_string=filter_string,
            max_results=max_results,
            order_by=["attributes.start_time DESC"],
        )
    except mlflow.exceptions.MlflowException as exc:
        raise ConfigError(f"--filter {filter_string!r}: {exc.message}") from None
    wanted = {
        "run_id": "run_id",
        "start_time": "start",
        "status": "status",
        "tags.mlflow.user": "user",
        "tags.atelier.kind": "kind",
        "params.training.backend": "backend",
        "params.training.model.name": "model",
        "tags.atelier.model_version": "version",
        "metrics.validation_auc": "val_auc",
        "metrics.test_auc": "test_auc",
        "metrics.test_rmse": "test_rmse",
    }
    present = {k: v for k, v in wanted.items() if k in runs.columns}
    out = runs[list(present)].rename(columns=present)
    if "start" in out:
        out["start"] = out["start"].dt.strftime("%Y-%m-%d %H:%M:%S")
    return out


def describe(results: list[tuple[list[str], TrainReport]], key: str) -> str:
    return json.dumps(
        [{"trial": " ".join(c), key: round(r.metrics[key], 4), "run": r.run_id} for c, r in results], indent=1
    )
