"""The validation stage's commands: `atelier validate` (jobs/validate.py) and `atelier quarantine`."""

from __future__ import annotations

import argparse
import logging

from atelier.command import Command, format_table
from atelier.errors import ConfigError
from atelier.runtime import add_use_case_args, open_job, parse_date

log = logging.getLogger("atelier")


def cmd_validate(args: argparse.Namespace) -> None:
    from atelier.validation.operations import validate_table

    with open_job(args, "validate") as job:
        counts = validate_table(job.lake, job.use_case, args.table, job.dates.start, job.dates.end)
    log.info("validated %s: %s", args.table, counts)


def add_validate_arguments(parser: argparse.ArgumentParser) -> None:
    add_use_case_args(parser)
    parser.add_argument("--table", required=True, help="a source name (its bronze table), 'silver' or 'features'")


def cmd_quarantine(args: argparse.Namespace) -> None:
    from atelier.validation.operations import quarantine_summary, release

    if args.action == "list":
        with open_job(args, "quarantine", use_case=False) as job:
            result = quarantine_summary(job.lake)
            rows = [tuple(str(v) for v in r) for r in result.collect()]
        print(format_table(result.columns, rows))
        return
    if not args.use_case or not args.table:
        raise ConfigError("quarantine release needs --use-case and --table (and --date or --start/--end)")
    with open_job(args, "quarantine") as job:
        counts = release(job.lake, job.use_case, args.table, job.dates.start, job.dates.end)
    log.info("release %s: %s", args.table, counts)


def add_quarantine_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list", "release"])
    parser.add_argument("--use-case", help="use case name (release)")
    parser.add_argument("--table", help="a source name, 'silver' or 'features' (release)")
    parser.add_argument("--date", type=parse_date, help="date to release")
    parser.add_argument("--start", type=parse_date, help="first date to release")
    parser.add_argument("--end", type=parse_date, help="last date to release")


VALIDATE = Command(
    "validate",
    "Validate a table's dates against the use case's rules: rows that break a row rule move to the "
    "quarantine, a table-rule breach fails; the run goes to ops.validation_runs and a Data Docs page under "
    "var/reports/data_docs.",
    "--use-case flights_delay --table flights --date 2013-02-12",
    cmd_validate,
    add_validate_arguments,
)
QUARANTINE = Command(
    "quarantine",
    "List quarantined rows by table, date and rule, or release the rows of a table's dates that pass "
    "the current rules back into it (exactly once).",
    "release --use-case flights_delay --table weather --date 2013-02-12",
    cmd_quarantine,
    add_quarantine_arguments,
)
