"""The features stage's command: `atelier features` (jobs/features.py)."""

from __future__ import annotations

import argparse
import logging

from atelier.command import Command
from atelier.runtime import add_use_case_args, open_job

log = logging.getLogger("atelier")


def cmd_features(args: argparse.Namespace) -> None:
    from atelier.features.build import run_features

    with open_job(args, "features") as job:
        report = run_features(job.lake, job.use_case, job.dates.start, job.dates.end)
        for table, version in report.versions.items():
            log.info("%-28s version %d", table, version)


FEATURES = Command(
    "features",
    "Build the silver (clean, joined) and gold (feature) tables of a use case for a date or range from bronze.",
    "--use-case flights_delay --start 2013-01-01 --end 2013-01-31",
    cmd_features,
    add_use_case_args,
)
