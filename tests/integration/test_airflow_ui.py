"""Airflow, for real, with its scheduler: a transient failure (the Derby catalog held by another JVM) is
retried and the run succeeds, and the UI logs in and triggers a daily run in headless Chromium.
Deployments: tests/integration/airflow_deployment.py.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from atelier.config.schema import PlatformConfig
from atelier.spark import tables
from tests.conftest import REPO, free_port
from tests.integration.airflow_deployment import (AIRFLOW_PYTHON, DAILY, SCRIPT, Deployment, copy_of_training_lake,
                                                  deploy, wait_until)

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
UI_DAY = "2013-07-04"
RETRY_DAY = "2013-07-03"  # before the first scoring date: collect, features and validate run, the rest skip


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, training_lake: PlatformConfig,
               arms: dict[str, str]) -> Deployment:
    """Airflow on a copy of the training lake (with the arms' champion and challenger)."""
    root = tmp_path_factory.mktemp("airflow-ui")
    return deploy(root, copy_of_training_lake(root, training_lake), "airflowtest", {}, {})


def _rows_of_day(spark: SparkSession, lake: PlatformConfig, day: dt.date) -> dict[str, int]:
    """The day's rows in the tables that collect and features write per date."""
    dated = {"bronze.flights": "_batch_date", "bronze.weather": "_batch_date", "ml.outcomes": "outcome_date",
             "gold.flight_features": "flight_date"}
    return {t: tables.read_table(spark, lake, t).filter(F.col(column) == day).count() for t, column in dated.items()}


def _listed(name: str, log: Path) -> bool:
    """Whether the spark-sql shell's output has `name` on a line of its own (a query's answer)."""
    return any(line.strip() == name for line in log.read_text().splitlines())


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
        shell.stdin.write("SHOW DATABASES;\n")  # the catalog answers: the shell's JVM holds Derby
        shell.stdin.flush()
        wait_until(lambda: _listed("default", shell_log) or shell.poll() is not None, 240,
                   "the spark-sql shell listed no databases")
        assert shell.poll() is None, shell_log.read_text()[-3000:]
        with run_log.open("w") as out:
            run = subprocess.Popen([SCRIPT, "cli", "dags", "test", "flights_delay_daily", RETRY_DAY],
                                   env=flaky.environ(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: flaky.task_states("flights_delay_daily", RETRY_DAY).get("collect", ("",))[0]
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


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=5).close()
        return True
    except OSError:
        return False


def _wait_for(url: str, timeout_s: float) -> None:
    wait_until(lambda: _answers(url), timeout_s, f"nothing answered on {url}")


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
