"""The `atelier` command: run jobs, list tables, query the catalog with SQL, generate data.

Each stage declares its commands (atelier.command.Command) in its own entry module; this module only puts
them together under one parser. A job file in jobs/ runs its stage's command directly (`Command.main`).
"""

from __future__ import annotations

import argparse
import sys

from atelier import spark_entry
from atelier.collect import entry as collect_entry
from atelier.command import Command, run_parsed
from atelier.features import entry as features_entry
from atelier.monitoring import entry as monitoring_entry
from atelier.orchestration import entry as orchestration_entry
from atelier.promotion import entry as promotion_entry
from atelier.scoring import entry as scoring_entry
from atelier.tracking import entry as tracking_entry
from atelier.training import entry as training_entry
from atelier.validation import entry as validation_entry

COMMANDS: tuple[Command, ...] = (
    collect_entry.COLLECT,
    features_entry.FEATURES,
    validation_entry.VALIDATE,
    validation_entry.QUARANTINE,
    spark_entry.TABLES,
    spark_entry.SQL,
    collect_entry.SYNTH,
    training_entry.TRAIN,
    training_entry.SWEEP,
    training_entry.RUNS,
    scoring_entry.SCORE,
    monitoring_entry.RECONCILE,
    monitoring_entry.MONITOR,
    monitoring_entry.REPORT,
    monitoring_entry.AB_REPORT,
    promotion_entry.PROMOTE,
    promotion_entry.ROLLBACK,
    tracking_entry.SERVE,
    tracking_entry.EXPORT,
    orchestration_entry.AIRFLOW_PLAN,
    tracking_entry.UI,
    spark_entry.SUBMIT,
    spark_entry.SPARK_SQL,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atelier", description="atelier: YAML use cases -> Spark + Delta ML loop.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_to(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_parsed(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
