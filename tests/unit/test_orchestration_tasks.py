"""What the DAGs' tasks decide, without Airflow: skips before scoring starts and until outcomes
mature, the training window, retraining requests, job arguments and summaries, the webhook."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import jinja2
import pytest
from tests.conftest import REPO

from atelier import outcome
from atelier.orchestration import tasks

PLAN = {
    "summaries_dir": "/lake/reports/airflow",
    "config_args": ["--env", "standalone"],
    "env": {"SPARK_HOME": "/jobs/pyspark"},
    "use_cases": {"flights_delay": {"maturity_days": 2}},
}


def test_the_dag_modules_import_with_the_standard_library_alone() -> None:
    """Airflow's environment has no pydantic, pyspark or yaml of atelier's: an interpreter without site-packages."""
    probe = (
        "import json, sys; sys.path.append(sys.argv[1]); import atelier.orchestration.tasks; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] not in sys.stdlib_module_names)))"
    )
    done = subprocess.run([sys.executable, "-I", "-S", "-c", probe, str(REPO / "src")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        "__main__",
        "atelier",
        "atelier.errors",
        "atelier.orchestration",
        "atelier.orchestration.tasks",
        "atelier.outcome",
    ]


@pytest.mark.parametrize(
    ("ds", "lag", "runs"),
    [
        ("2013-09-30", 0, False),  # in_service: the day before the first scoring date
        ("2013-10-01", 0, True),
        ("2013-10-02", 2, False),  # matured: 2013-09-30 was not scored
        ("2013-10-03", 2, True),  # 2013-10-01, the first scored date, has matured
        ("2014-01-01", 2, True),
    ],
)
def test_scoring_waits_for_its_first_date_and_monitoring_for_the_maturity(ds: str, lag: int, runs: bool) -> None:
    assert tasks.on_or_after(ds, "2013-10-01", lag) is runs


def test_a_use_case_without_a_first_scoring_date_scores_from_the_start() -> None:
    assert tasks.on_or_after("2013-01-01", None, 2)


def test_the_window_ends_on_the_newest_requested_date() -> None:
    extras = [{"request_dates": ["2013-07-01", "2013-07-03"]}, None, {}, {"request_dates": ["2013-07-02"]}]
    assert tasks.training_window_end(extras, dt.date(2013, 7, 7), 2, "2013-12-31") == "2013-07-03"


def test_without_requests_the_window_ends_where_outcomes_have_matured() -> None:
    assert tasks.training_window_end([], dt.date(2013, 7, 7), 2, "2013-12-31") == "2013-07-05"
    assert tasks.training_window_end([{}], dt.date(2013, 7, 7), 2, None) == "2013-07-05"


def test_the_window_never_ends_after_the_use_cases_last_date() -> None:
    assert tasks.training_window_end([], dt.date(2014, 1, 5), 2, "2013-12-31") == "2013-12-31"
    assert (
        tasks.training_window_end([{"request_dates": ["2014-01-02"]}], dt.date(2014, 1, 5), 2, "2013-12-31")
        == "2013-12-31"
    )


def test_monitorings_request_reaches_the_retraining_window(tmp_path: Path) -> None:
    summary = tmp_path / "monitor.json"
    summary.write_text(json.dumps({"retrain_dates": ["2013-07-04", "2013-07-05"], "reasons": ["drift: dep_delay"]}))
    request = tasks.retrain_request(str(summary), "flights_delay")
    assert request == {"request_dates": ["2013-07-04", "2013-07-05"], "reasons": ["drift: dep_delay"]}
    assert tasks.training_window_end([request], dt.date(2013, 7, 20), 2, None) == "2013-07-05"


def test_no_retraining_request_when_monitoring_asked_none(tmp_path: Path) -> None:
    summary = tmp_path / "monitor.json"
    summary.write_text(json.dumps({"retrain_dates": [], "reasons": []}))
    assert tasks.retrain_request(str(summary), "flights_delay") is None


def render(template: str, **context: object) -> str:
    """As Airflow renders a templated argument (`ds_add` as Airflow's macro)."""

    def ds_add(ds: str, days: int) -> str:
        return (dt.date.fromisoformat(ds) + dt.timedelta(days=days)).isoformat()

    return jinja2.Environment().from_string(template).render(macros={"ds_add": ds_add}, **context)


def test_daily_jobs_run_for_the_day_and_reconcile_what_matured() -> None:
    jobs = tasks.daily_jobs(PLAN, "flights_delay")
    assert list(jobs) == ["collect", "features", "validate", "score", "reconcile", "monitor"]
    dates = {job: render(args[args.index("--date") + 1], ds="2013-10-05") for job, args in jobs.items()}
    assert dates == {
        "collect": "2013-10-05",
        "features": "2013-10-05",
        "validate": "2013-10-05",
        "score": "2013-10-05",
        "reconcile": "2013-10-03",
        "monitor": "2013-10-03",
    }
    # every job sees the configuration the plan saw, and its use case
    assert all(args[:4] == ["--env", "standalone", "--use-case", "flights_delay"] for args in jobs.values())
    assert jobs["validate"][4:6] == ["--table", "features"]


def test_each_job_writes_its_summary_where_the_next_task_reads_it() -> None:
    daily = tasks.daily_jobs(PLAN, "flights_delay")
    retrain = tasks.retrain_jobs(PLAN, "flights_delay", window_task="window", trained_task="trained")
    for job, args in [("monitor", daily["monitor"]), ("train", retrain["train"]), ("promote", retrain["promote"])]:
        assert args[args.index("--summary-json") + 1] == tasks.summary_path(PLAN, "flights_delay", job)
    path = render(tasks.summary_path(PLAN, "flights_delay", "monitor"), run_id="scheduled__2013-10-05T00:00:00+00:00")
    assert path == "/lake/reports/airflow/flights_delay/monitor/scheduled__2013-10-05T00_00_00+00_00.json"


def test_retraining_trains_on_the_window_and_promotes_the_version_it_registered() -> None:
    retrain = tasks.retrain_jobs(PLAN, "flights_delay", window_task="window", trained_task="trained")
    assert list(retrain) == ["train", "promote"]
    pulled = {"window": "2013-07-05", "trained": "7"}

    class TaskInstance:
        def xcom_pull(self, task_ids: str) -> str:
            return pulled[task_ids]

    train = [render(arg, ti=TaskInstance(), run_id="r1") for arg in retrain["train"]]
    promote = [render(arg, ti=TaskInstance(), run_id="r1") for arg in retrain["promote"]]
    assert train[:6] == [
        "--env",
        "standalone",
        "--use-case",
        "flights_delay",
        "--set",
        "training.window.end=2013-07-05",
    ]
    assert promote[4:7] == ["--version", "7", "--allow-refusal"]  # a refused promotion is an outcome


def test_each_try_has_its_own_outcome_file() -> None:
    env = tasks.job_env(PLAN, "flights_delay", "collect")
    assert env["SPARK_HOME"] == "/jobs/pyspark"

    class TaskInstance:
        def __init__(self, try_number: int) -> None:
            self.try_number = try_number

    paths = {render(env[outcome.ENV], run_id="manual__2013-07-07T00:00:00", ti=TaskInstance(n)) for n in (1, 2)}
    assert paths == {
        f"/lake/reports/airflow/flights_delay/outcomes/collect/manual__2013-07-07T00_00_00.try{n}.json" for n in (1, 2)
    }


def test_trained_reads_the_registered_version(tmp_path: Path) -> None:
    summary = tmp_path / "train.json"
    summary.write_text(json.dumps({"run_id": "abc", "model": "flights_delay", "version": "7", "metrics": {"auc": 0.7}}))
    assert tasks.trained_version(str(summary)) == "7"


def test_the_gates_outcome_is_posted_to_the_webhook(tmp_path: Path) -> None:
    found: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            found.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    summary = tmp_path / "promote.json"
    gate = {"model": "flights_delay", "version": "7", "promoted": False, "reason": "does not beat champion version 3"}
    summary.write_text(json.dumps(gate))
    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    try:
        assert tasks.notify(str(summary), f"http://127.0.0.1:{server.server_port}/hook") == gate
    finally:
        thread.join(10)
        server.server_close()
    assert found == [gate]
    assert tasks.notify(str(summary), None) == gate  # no webhook: logged only
