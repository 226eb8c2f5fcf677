"""Airflow deployments for the Airflow tests (test_airflow_runs.py, test_airflow_ui.py).

Airflow runs from .venv-airflow (`make airflow-venv`) on its own SQLite database; every task is a
spark-submit of a job in the jobs environment, on a copy of the session's small training lake (June
20 - July 6, 2013, with the `arms` fixture's champion and challenger), through a configuration
overlay under the test's own conf/ (what a user's `--env` does). Airflow's metadata database is
migrated once per test process; later deployments start from a copy of it.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from tests.conftest import CONF, REPO
from tests.integration.conftest import ARMS_MODEL, FAST, WINDOW

from atelier.config.platform import PlatformConfig

AIRFLOW_PYTHON = REPO / ".venv-airflow" / "bin" / "python"
ATELIER = str(Path(sys.executable).parent / "atelier")
SCRIPT = str(REPO / "scripts" / "airflow.sh")
DAILY = ["collect", "features", "validate", "in_service", "score", "matured", "reconcile", "monitor", "request_retrain"]
RETRAIN = ["window", "train", "trained", "promote", "notify"]
_MIGRATED: dict[str, Path] = {}  # "airflow.db": a copy of the first database this process migrated, before any run


def _overlay(key_values: list[str]) -> dict:
    """`a.b=value` items (the conftest's --set lists) as a nested mapping for a YAML overlay."""
    tree: dict = {}
    for item in key_values:
        key, value = item.split("=", 1)
        *parents, leaf = key.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    return tree


@dataclass(frozen=True)
class Deployment:
    """An AIRFLOW_HOME with a plan built from `conf_dir` and overlay `env`, and the lake it runs on."""

    root: Path
    home: Path
    conf_dir: Path
    env_name: str
    platform: PlatformConfig

    def environ(self) -> dict[str, str]:
        return {
            **os.environ,
            "AIRFLOW_HOME": str(self.home),
            "ATELIER_PLAN": str(self.home / "plan.json"),
            "ATELIER_PLAN_ARGS": f"--conf-dir {self.conf_dir} --env {self.env_name}",
        }

    def airflow(self, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
        return subprocess.run([SCRIPT, *args], env=self.environ(), capture_output=True, text=True, timeout=timeout)

    def atelier_command(self, *args: str) -> list[str]:
        return [ATELIER, *args, "--conf-dir", str(self.conf_dir), "--env", self.env_name]

    def atelier(self, *args: str) -> str:
        done = subprocess.run(self.atelier_command(*args), cwd=REPO, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"atelier {args[0]} failed:\n{(done.stdout + done.stderr)[-4000:]}"
        return done.stdout

    def task_states(self, dag_id: str, day: str) -> dict[str, tuple[str, int]]:
        """Each task's (state, try number) in the DAG's run for `day`, from Airflow's metadata database."""
        with sqlite3.connect(self.home / "airflow.db") as db:
            rows = db.execute(
                "SELECT ti.task_id, ti.state, ti.try_number FROM task_instance ti JOIN dag_run r "
                "ON r.dag_id = ti.dag_id AND r.run_id = ti.run_id WHERE ti.dag_id = ? AND date(r.logical_date) = ?",
                (dag_id, day),
            ).fetchall()
        return {task: (state, tries) for task, state, tries in rows}

    def task_logs(self, dag_id: str, day: str, task: str) -> list[str]:
        """The task's try logs in the DAG's run for `day`, in try order (the scheduler writes one file per try)."""
        with sqlite3.connect(self.home / "airflow.db") as db:
            ((run_id,),) = db.execute(
                "SELECT run_id FROM dag_run WHERE dag_id = ? AND date(logical_date) = ?", (dag_id, day)
            ).fetchall()
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task}"
        return [
            p.read_text(errors="replace")
            for p in sorted(folder.glob("attempt=*.log"), key=lambda p: int(p.stem.split("=")[1]))
        ]

    def tries(self, dag_id: str, day: str, task: str) -> list[tuple[int, str, dt.datetime, dt.datetime]]:
        """A task's tries in the DAG's run for `day`: (try number, state, start, end), the earlier ones
        from Airflow's task_instance_history, the last from task_instance."""
        query = (
            "SELECT ti.try_number, ti.state, ti.start_date, ti.end_date FROM {} ti JOIN dag_run r ON "
            "r.dag_id = ti.dag_id AND r.run_id = ti.run_id WHERE ti.dag_id = ? AND date(r.logical_date) = ? "
            "AND ti.task_id = ?"
        )
        with sqlite3.connect(self.home / "airflow.db") as db:
            rows = [
                row
                for table in ("task_instance_history", "task_instance")
                for row in db.execute(query.format(table), (dag_id, day, task)).fetchall()
            ]
        return sorted((n, state, _utc(start), _utc(end)) for n, state, start, end in rows)


def _utc(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC) if text else None


def deploy(root: Path, lake: PlatformConfig, env_name: str, platform_extra: dict, use_case_extra: dict) -> Deployment:
    """A copy of conf/ with an overlay pointing every job at `root`, and Airflow initialised on it."""
    conf_dir = root / "conf"
    if not conf_dir.exists():
        shutil.copytree(CONF, conf_dir)
    overlay = conf_dir / env_name
    (overlay / "use_cases").mkdir(parents=True, exist_ok=True)
    platform = lake.model_copy(
        update={
            "metastore_dir": str(root / "metastore"),
            "cache_dir": str(root / "cache"),
            "reports_dir": str(root / "reports"),
        }
    )
    settings = {
        "lake_root": platform.lake_root,
        "metastore_dir": platform.metastore_dir,
        "cache_dir": platform.cache_dir,
        "reports_dir": platform.reports_dir,
        "mlflow": {"tracking_uri": platform.mlflow.tracking_uri, "artifact_root": str(root / "artifacts")},
        "spark": {"master": "local[2]", "shuffle_partitions": 2, "driver_memory": "1g"},
        "orchestration": {"catchup": False, "retries": 0},
    }
    (overlay / "platform.yaml").write_text(yaml.safe_dump(_deep_merge(settings, platform_extra)))
    use_case = _overlay(
        [
            *WINDOW,
            *FAST,
            ARMS_MODEL,
            "scoring.start=2013-07-04",
            "training.backend=local",
            "promotion.margins={auc: 0.5}",  # no candidate clears it: the retrain DAG's gate refuses
            "scoring.arms=[{name: champion, role: champion, alias: champion},"
            " {name: challenger, role: challenger, alias: challenger, share: 0.2}]",
        ]
    )
    (overlay / "use_cases" / "flights_delay.yaml").write_text(yaml.safe_dump(_deep_merge(use_case, use_case_extra)))
    deployment = Deployment(root, root / f"airflow-{env_name}", conf_dir, env_name, platform)
    migrated = _MIGRATED.get("airflow.db")
    if migrated is not None:  # a database migrated by this process before, still without a run: init only checks it
        deployment.home.mkdir(parents=True, exist_ok=True)
        shutil.copy(migrated, deployment.home / "airflow.db")
    done = deployment.airflow("init", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    if migrated is None:
        _MIGRATED["airflow.db"] = shutil.copy(deployment.home / "airflow.db", root / "airflow-migrated.db")
    return deployment


def _deep_merge(into: dict, extra: dict) -> dict:
    for key, value in extra.items():
        into[key] = _deep_merge(into.get(key, {}), value) if isinstance(value, dict) else value
    return into


def copy_of_training_lake(root: Path, training_lake: PlatformConfig) -> PlatformConfig:
    """The training lake and its MLflow store copied under `root` (the artifacts stay where they are: read only)."""
    shutil.copytree(training_lake.lake_root, root / "lake")
    tracking = Path(training_lake.mlflow.tracking_uri.removeprefix("sqlite:///"))
    shutil.copy(tracking, root / "mlflow.db")
    return training_lake.model_copy(
        update={
            "lake_root": str(root / "lake"),
            "mlflow": training_lake.mlflow.model_copy(update={"tracking_uri": f"sqlite:///{root / 'mlflow.db'}"}),
        }
    )


def wait_until(ready: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} in {timeout_s:.0f} s")
        time.sleep(1)
