"""Airflow, for real, with its scheduler and UI: a daily run triggered in the browser goes end to end on
the real data, through a transient failure on its way (the embedded Derby catalog held by a user's
spark-sql shell when collect's first try starts) that the retry gets past.
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
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from tests.conftest import REPO, free_port
from tests.integration.airflow_deployment import (
    AIRFLOW_PYTHON,
    DAILY,
    SCRIPT,
    Deployment,
    copy_of_training_lake,
    deploy,
    wait_until,
)

from atelier.config.platform import PlatformConfig
from atelier.spark.tables import Lake

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
DAY = "2013-07-06"  # scored, and July 4 (scored by the fixture) has matured: every task of the DAG has work
RETRY_DELAY_S = 20  # the shell quits within a few seconds of the first try's failure


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, training_lake: PlatformConfig, arms: dict[str, str]
) -> Deployment:
    """Airflow on a copy of the training lake (with the arms' champion and challenger), July 4-5 already
    scored (so reconciliation has work), one retry per task."""
    root = tmp_path_factory.mktemp("airflow-ui")
    retry = {"retries": 1, "retry_delay_s": RETRY_DELAY_S, "max_retry_delay_s": RETRY_DELAY_S}
    deployed = deploy(root, copy_of_training_lake(root, training_lake), "airflowtest", {"orchestration": retry}, {})
    deployed.atelier("score", "--use-case", "flights_delay", "--start", "2013-07-04", "--end", "2013-07-05")
    return deployed


def _rows_of_day(spark: SparkSession, lake: PlatformConfig, day: dt.date) -> dict[str, int]:
    """The day's rows in the tables that collect and features write per date."""
    dated = {
        "bronze.flights": "_batch_date",
        "bronze.weather": "_batch_date",
        "ml.outcomes": "outcome_date",
        "gold.flight_features": "flight_date",
    }
    return {t: Lake(spark, lake).read(t).filter(F.col(column) == day).count() for t, column in dated.items()}


def _listed(name: str, log: Path) -> bool:
    """Whether the spark-sql shell's output has `name` on a line of its own (a query's answer)."""
    return any(line.strip() == name for line in log.read_text().splitlines())


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=5).close()
        return True
    except OSError:
        return False


def _stop(process: subprocess.Popen | None) -> None:
    """SIGKILL what is left of a process group started by the test."""
    if process is not None and process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)


@contextlib.contextmanager
def _airflow_server(deployment: Deployment, env: dict[str, str]) -> Iterator[None]:
    """`scripts/airflow.sh start` (API server, scheduler, DAG processor) until the block ends, then what
    Ctrl-C in its terminal does: every process of the group gets SIGTERM; the script gives Airflow
    ATELIER_AIRFLOW_STOP_S (30) to finish, then kills what is left."""
    with (deployment.root / "airflow-ui.log").open("w") as log:
        server = subprocess.Popen(
            [SCRIPT, "start"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=90)
        finally:
            with contextlib.suppress(ProcessLookupError):  # nothing of it must outlive the test
                os.killpg(server.pid, signal.SIGKILL)


def test_a_daily_run_triggered_in_the_ui_goes_end_to_end_through_a_transient_failure(
    spark: SparkSession, deployment: Deployment
) -> None:
    lake, day = deployment.platform, dt.date.fromisoformat(DAY)
    before = _rows_of_day(spark, lake, day)
    assert all(before.values()), before
    flights_versions = Lake(spark, lake).version("bronze.flights")
    port, password = free_port(), secrets.token_urlsafe(12)
    env = deployment.environ() | {"ATELIER_AIRFLOW_PORT": str(port), "ATELIER_AIRFLOW_PASSWORD": password}
    url, shots = f"http://127.0.0.1:{port}", REPO / "var" / "reports" / "airflow"
    shell_log = deployment.root / "spark-sql.log"
    shell = browser = None
    with _airflow_server(deployment, env), shell_log.open("w") as out:
        try:
            # A user's spark-sql shell holds the embedded Derby catalog (one JVM at a time) ...
            shell = subprocess.Popen(
                deployment.atelier_command("spark-sql"),
                cwd=REPO,
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
            shell.stdin.write("SHOW DATABASES;\n")  # the catalog answers: the shell's JVM holds Derby
            shell.stdin.flush()
            wait_until(
                lambda: _listed("default", shell_log) or shell.poll() is not None,
                240,
                "the spark-sql shell listed no databases",
            )
            assert shell.poll() is None, shell_log.read_text()[-3000:]
            wait_until(lambda: _answers(f"{url}/api/v2/version"), 240, f"nothing answered on {url}")
            # ... while another triggers the day's run in the UI: collect's first try fails (exit status 1,
            # not a refused input), the shell quits, the retry succeeds and the run goes on.
            browser = subprocess.Popen(
                [
                    str(AIRFLOW_PYTHON),
                    str(REPO / "tests" / "browser" / "airflow_ui.py"),
                    url,
                    "admin",
                    password,
                    "flights_delay_daily",
                    DAY,
                    str(shots),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
            wait_until(
                lambda: (
                    deployment.task_states("flights_delay_daily", DAY).get("collect", ("",))[0]
                    in ("up_for_retry", "failed", "success")
                    or browser.poll() is not None
                ),
                600,
                "collect's first try did not end",
            )
            failed = time.monotonic()
            shell.communicate("quit;\n", timeout=120)  # the user closes the shell: Derby is free again
            released, quit_s = dt.datetime.now(dt.UTC), time.monotonic() - failed
            shown, errors = browser.communicate(timeout=1200)
        finally:
            for process in (shell, browser):
                _stop(process)
    assert browser.returncode == 0, errors[-3000:]
    seen = json.loads(shown.strip().splitlines()[-1])
    states = deployment.task_states("flights_delay_daily", DAY)
    tries = deployment.tries("flights_delay_daily", DAY, "collect")
    assert "error" not in seen, seen
    assert {"flights_delay_daily", "flights_delay_retrain"} <= set(seen["dags"])
    assert seen["state"] == "success", (seen, states, tries, (deployment.root / "airflow-ui.log").read_text()[-3000:])
    assert seen["date_field"] == "Jul 06, 2013 00:00"
    assert all(Path(p).stat().st_size > 10_000 for p in seen["screenshots"])

    # Every task ran; monitoring asked for retraining (the asset event) or it did not (skipped): both are outcomes.
    assert {t: s for t, (s, _) in states.items() if t != "request_retrain"} == {
        t: "success" for t in DAILY if t != "request_retrain"
    }, (states, tries)
    assert states["request_retrain"][0] in ("success", "skipped")
    assert all(n == 1 for t, (s, n) in states.items() if s == "success" and t != "collect"), states  # first try

    # The transient failure: the first try failed while the shell held Derby, the second started after
    # the retry delay, once the shell had quit.
    (first, first_state, _, first_end), (second, second_state, second_start, _) = tries
    assert (first, first_state, second, second_state) == (1, "failed", 2, "success"), tries
    assert first_end < released < second_start and (second_start - first_end).total_seconds() >= RETRY_DELAY_S, (
        first_end,
        released,
        second_start,
    )
    first_log, second_log = deployment.task_logs("flights_delay_daily", DAY, "collect")
    assert "Another instance of Derby may have already booted the database" in first_log, first_log[-4000:]
    assert "Error code is: 1." in first_log and "refused its input" not in first_log  # exit status 1: retried
    assert "Derby may have already booted" not in second_log
    # the failed try had committed its replacement of the day's flights when the catalog failed it (a version
    # of bronze.flights with no log line); the retry replaced the day again: its rows are there once
    assert _rows_of_day(spark, lake, day) == before, before
    versions = Lake(spark, lake).version("bronze.flights")
    assert versions > flights_versions

    # The day's tables, on the real data: every flight of the day scored by both arms' split, July 4 reconciled.
    matured = dt.date(2013, 7, 4)
    features = Lake(spark, lake).read("gold.flight_features").filter(F.col("flight_date") == day).count()
    predictions = Lake(spark, lake).read("ml.predictions").filter(F.col("score_date") == day)
    assert predictions.filter("served").count() == features > 500
    assert sorted(r.arm for r in predictions.select("arm").distinct().collect()) == ["challenger", "champion"]
    live = Lake(spark, lake).read("ml.live_metrics").filter(F.col("score_date") == matured)
    assert live.filter("arm = 'champion' AND population = 'all'").first().rows_labelled > 500
    drift = Lake(spark, lake).read("ml.feature_drift").filter(F.col("score_date") == matured)
    assert drift.count() > 10
    print(
        f"transient failure: try 1 failed {(first_end - tries[0][2]).total_seconds():.0f} s after its start, "
        f"the shell quit in {quit_s:.1f} s, try 2 started {(second_start - first_end).total_seconds():.0f} s "
        f"after the failure; bronze.flights versions {flights_versions} -> {versions}"
    )
