"""The orchestration command: `atelier airflow-plan`, the plan the Airflow DAG factory reads."""

from __future__ import annotations

import argparse
from pathlib import Path

from atelier.command import Command


def cmd_airflow_plan(args: argparse.Namespace) -> None:
    from atelier.orchestration.plan import DEFAULT_PLAN, write_plan

    print(write_plan(args.out or DEFAULT_PLAN, args.conf_dir, args.env, args.overrides))


def add_airflow_plan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, help="where to write it (default var/airflow/plan.json)")


AIRFLOW_PLAN = Command(
    "airflow-plan",
    "Write the DAG plan the Airflow DAG factory (dags/) reads: the jobs environment's spark-submit, "
    "Spark settings, and every use case's dates; the configuration flags given here (--env, --set) are passed on to "
    "every task.",
    "--env standalone",
    cmd_airflow_plan,
    add_airflow_plan_arguments,
)
