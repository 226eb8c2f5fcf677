"""The DAG plan: what the Airflow DAG factory reads, resolved from the configuration in the jobs environment."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import CONF

from atelier.orchestration.plan import build_plan, write_plan


def test_the_plan_carries_each_use_case_its_dates_and_the_jobs_launcher() -> None:
    plan = build_plan(CONF, None, ["orchestration.retries=4"])
    assert sorted(plan["use_cases"]) == sorted(p.stem for p in (CONF / "base" / "use_cases").glob("*.yaml"))
    flights = plan["use_cases"]["flights_delay"]
    # Scoring starts the day after the training window (Jan-Sep), reconciliation waits 2 days more.
    assert flights | {"description": ""} == {
        "description": "",
        "start": "2013-01-01",
        "end": "2013-12-31",
        "scoring_start": "2013-10-01",
        "maturity_days": 2,
        "model": "flights_delay",
    }
    assert plan["orchestration"]["retries"] == 4 and plan["orchestration"]["pool"] == "atelier_spark"
    assert Path(plan["spark_submit"]).name == "spark-submit" and Path(plan["spark_submit"]).is_file()
    assert (Path(plan["env"]["SPARK_HOME"]) / "bin" / "spark-submit").is_file()
    assert plan["conf"]["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert all(
        (Path(plan["jobs_dir"]) / f"{job}.py").is_file()
        for job in ("collect", "features", "validate", "score", "reconcile", "monitor", "train", "promote")
    )


def test_configuration_flags_given_to_the_plan_reach_every_task(tmp_path: Path) -> None:
    path = write_plan(tmp_path / "plan.json", CONF, "standalone", ["scoring.start=2013-11-01"])
    plan = json.loads(path.read_text())
    assert plan["config_args"] == [
        "--conf-dir",
        str(CONF.resolve()),
        "--env",
        "standalone",
        "--set=scoring.start=2013-11-01",
    ]
    assert plan["master"] == "spark://127.0.0.1:7077"
    assert plan["use_cases"]["flights_delay"]["scoring_start"] == "2013-11-01"
    assert not list(tmp_path.glob("*.partial"))
