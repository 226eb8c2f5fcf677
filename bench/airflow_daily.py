"""Benchmark one daily DAG run for one date: where the wall time goes, and what one JVM would save.

Runs `airflow dags test <use_case>_daily DATE` (every task a spark-submit, as the scheduler runs
them) on a throw-away AIRFLOW_HOME, and splits each Spark task from its log into JVM and session
start-up (spark-submit to the job's first line after the session is up), the job's work, and
Airflow's own time (task start to spark-submit, and between tasks). Then, as the competitor, the
same jobs for the same date run in this process on one SparkSession (what a long-lived Spark
Connect server or driver would give). Needs the example's tables and a champion (`make demo`); the
jobs are idempotent, so it rewrites that date's partitions with the same rows.

    .venv/bin/python bench/airflow_daily.py [DATE]      # default 2013-10-05
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from atelier.spark.tables import Lake

REPO = Path(__file__).resolve().parents[1]
STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z")
GOAL_S = 180.0


def _at(line: str) -> float | None:
    found = STAMP.match(line)
    return dt.datetime.fromisoformat(found.group(1)).timestamp() if found else None


def split_log(lines: list[str]) -> dict[str, dict[str, float]]:
    """Per task: seconds of JVM start-up, of work, and of Airflow around it, from `airflow dags test` output."""
    tasks: dict[str, dict[str, float]] = {}
    current, marks = None, {}
    for line in lines:
        at = _at(line)
        if at is None:
            continue
        if "[DAG TEST] starting task_id=" in line:
            current = line.split("task_id=")[1].split()[0]
            marks = {"start": at}
        elif current and "Spark-Submit cmd:" in line:
            marks["submit"] = at
        elif current and "submit" in marks and "session" not in marks and "atelier.spark.session: spark" in line:
            marks["session"] = at
        elif current and "[DAG TEST] end task" in line:
            marks["end"] = at
            if "session" in marks:
                tasks[current] = {
                    "airflow": marks["submit"] - marks["start"],
                    "jvm": marks["session"] - marks["submit"],
                    "work": marks["end"] - marks["session"],
                }
            else:
                tasks[current] = {"airflow": marks["end"] - marks["start"], "jvm": 0.0, "work": 0.0}
            current = None
    return tasks


def airflow_run(day: str) -> tuple[float, str, dict[str, dict[str, float]]]:
    """Wall seconds, the run's final state, and the per-task split."""
    with tempfile.TemporaryDirectory(prefix="atelier-bench-airflow-") as home:
        env = {**os.environ, "AIRFLOW_HOME": home, "ATELIER_PLAN": f"{home}/plan.json"}
        script = str(REPO / "scripts" / "airflow.sh")
        subprocess.run([script, "init"], env=env, check=True, capture_output=True)
        started = time.perf_counter()
        done = subprocess.run(
            [script, "cli", "dags", "test", "flights_delay_daily", day], env=env, capture_output=True, text=True
        )
        wall = time.perf_counter() - started
    output = (done.stdout + done.stderr).splitlines()
    finished = [line for line in output if "DagRun Finished:" in line]
    state = finished[-1].split("state=")[1].split(",")[0] if finished else "unknown"
    if state != "success":
        print("\n".join(output[-40:]), file=sys.stderr)
    return wall, state, split_log(output)


def one_session(day: dt.date) -> dict[str, float]:
    """The same jobs on one SparkSession in this process: seconds per job, and the session start."""
    from atelier.collect.ingest import collect
    from atelier.config.loader import load_platform, load_use_case
    from atelier.features.build import run_features
    from atelier.monitoring.alerts import raise_alerts
    from atelier.monitoring.drift import drift
    from atelier.monitoring.reconcile import reconcile
    from atelier.runtime import setup_logging
    from atelier.scoring.batch import score_dates
    from atelier.spark.session import build_session
    from atelier.validation.operations import validate_table

    setup_logging("WARNING")
    platform, uc = load_platform(), load_use_case("flights_delay")
    matured = day - dt.timedelta(days=uc.monitoring.maturity_days)
    times = {}
    started = time.perf_counter()
    spark = build_session(platform, app_name="atelier-bench-one-session")
    times["session start"] = time.perf_counter() - started
    for name, job in (
        ("collect", lambda: collect(Lake(spark, platform), uc, day, day)),
        ("features", lambda: run_features(Lake(spark, platform), uc, day, day)),
        ("validate", lambda: validate_table(Lake(spark, platform), uc, "features", day, day)),
        ("score", lambda: score_dates(Lake(spark, platform), uc, day, day)),
        ("reconcile", lambda: reconcile(Lake(spark, platform), uc, matured, matured)),
        (
            "monitor",
            lambda: (
                drift(Lake(spark, platform), uc, matured, matured),
                raise_alerts(Lake(spark, platform), uc, matured, matured),
            ),
        ),
    ):
        started = time.perf_counter()
        job()
        times[name] = time.perf_counter() - started
    return times


def main(day: str = "2013-10-05") -> None:
    wall, state, tasks = airflow_run(day)
    print(
        f"\n`airflow dags test flights_delay_daily {day}`: {state}, {wall:.1f} s wall (goal < {GOAL_S:.0f} s: "
        f"{'met' if wall < GOAL_S else 'NOT met'})"
    )
    print(f"{'task':<16}{'airflow s':>10}{'jvm+session s':>15}{'work s':>9}")
    for task, parts in tasks.items():
        print(f"{task:<16}{parts['airflow']:>10.1f}{parts['jvm']:>15.1f}{parts['work']:>9.1f}")
    totals = {k: sum(p[k] for p in tasks.values()) for k in ("airflow", "jvm", "work")}
    print(f"{'total':<16}{totals['airflow']:>10.1f}{totals['jvm']:>15.1f}{totals['work']:>9.1f}")
    print(
        f"JVM and session start-up: {totals['jvm'] / wall:.0%} of the wall time; Airflow: "
        f"{totals['airflow'] / wall:.0%}; the jobs' work: {totals['work'] / wall:.0%}"
    )

    times = one_session(dt.date.fromisoformat(day))
    in_process = sum(times.values())
    print(
        f"\nthe same jobs on one SparkSession in one process: {in_process:.1f} s "
        f"(session start {times['session start']:.1f} s)"
    )
    print("  " + "  ".join(f"{k} {v:.1f}" for k, v in times.items()))
    print(f"ratio daily DAG / one session: {wall / in_process:.2f}x")


if __name__ == "__main__":
    main(*sys.argv[1:2])
