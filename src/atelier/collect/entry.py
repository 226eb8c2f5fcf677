"""The collect stage's commands: `atelier collect` (jobs/collect.py) and `atelier synth`."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from atelier.command import Command
from atelier.runtime import add_use_case_args, open_job

log = logging.getLogger("atelier")


def cmd_collect(args: argparse.Namespace) -> None:
    from atelier.collect.ingest import collect

    with open_job(args, "collect") as job:
        report = collect(job.lake, job.use_case, job.dates.start, job.dates.end)
        for table, rows in report.rows.items():
            log.info("%-28s %9d rows%s", table, rows, "  (unchanged)" if table in report.unchanged else "")


def cmd_synth(args: argparse.Namespace) -> None:
    from atelier.collect.synth import synthesize

    with open_job(args, "synth", dated=False) as job:
        path = synthesize(job.lake, job.use_case, args.rows, args.seed, args.out)
    print(path)


def add_synth_arguments(parser: argparse.ArgumentParser) -> None:
    add_use_case_args(parser, dated=False)
    parser.add_argument("--rows", type=int, required=True, help="rows to generate")
    parser.add_argument("--seed", type=int, default=13, help="random seed (default 13)")
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output folder (Parquet): new, empty, or an earlier synth output (replaced); any other folder is refused",
    )


COLLECT = Command(
    "collect",
    "Collect a use case's sources into bronze Delta tables for a date (or range), and the outcomes that "
    "matured by then into the outcomes table.",
    "--use-case flights_delay --date 2013-01-01",
    cmd_collect,
    add_use_case_args,
)
SYNTH = Command(
    "synth",
    "Write a seeded synthetic copy of a use case's primary source, N rows drawn from the real data's "
    "distributions, as Parquet (for benchmarks at scale).",
    "--use-case flights_delay --rows 1000000 --out var/synth/flights_1m",
    cmd_synth,
    add_synth_arguments,
)
