"""What every job entry point shares: common arguments, configuration, logging and the session."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from pyspark.sql import SparkSession

from atelier import outcome
from atelier.config.common import DateRange
from atelier.config.loader import load_platform, load_use_case
from atelier.config.platform import PlatformConfig
from atelier.config.use_case import UseCaseConfig
from atelier.errors import AtelierError, ConfigError

if TYPE_CHECKING:
    from atelier.spark.tables import Lake  # imported when a job opens: Delta's modules are not the CLI's start-up

log = logging.getLogger("atelier")


@dataclass(frozen=True)
class Job:
    platform: PlatformConfig
    spark: SparkSession
    use_case_or_none: UseCaseConfig | None = None  # None: opened with use_case=False
    dates_or_none: DateRange | None = None  # None: opened with use_case=False or dated=False

    @cached_property
    def lake(self) -> Lake:
        """The lake of this job's session and platform, built once: what the stages take."""
        from atelier.spark.tables import Lake

        return Lake(self.spark, self.platform)

    @property
    def use_case(self) -> UseCaseConfig:
        """The job's use case; an error if the job was opened without one (open_job(use_case=False))."""
        if self.use_case_or_none is None:
            raise RuntimeError("this job was opened without a use case (open_job(..., use_case=False))")
        return self.use_case_or_none

    @property
    def dates(self) -> DateRange:
        """The job's dates; an error if the job was opened undated (open_job(dated=False or use_case=False))."""
        if self.dates_or_none is None:
            raise RuntimeError("this job was opened without dates (open_job(..., dated=False or use_case=False))")
        return self.dates_or_none


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("py4j", "pyspark"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", help="configuration overlay: conf/<ENV>/ (default: $ATELIER_ENV)")
    parser.add_argument("--conf-dir", type=Path, help="configuration root (default: $ATELIER_CONF_DIR or ./conf)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override one configuration value (repeatable), e.g. --set spark.master=local[2]",
    )


def add_use_case_args(parser: argparse.ArgumentParser, dated: bool = True) -> None:
    parser.add_argument("--use-case", required=True, help="use case name: conf/base/use_cases/<NAME>.yaml")
    if dated:
        parser.add_argument("--date", type=parse_date, help="the logical date to process (YYYY-MM-DD)")
        parser.add_argument("--start", type=parse_date, help="first date of a backfill (with --end)")
        parser.add_argument("--end", type=parse_date, help="last date of a backfill, inclusive (with --start)")


def date_range(args: argparse.Namespace) -> DateRange:
    """`--date D`, or `--start D1 --end D2`: exactly one of the two forms."""
    if args.date and (args.start or args.end):
        raise ConfigError("give --date, or --start and --end, not both")
    if args.date:
        return DateRange(start=args.date, end=args.date)
    if args.start and args.end:
        if args.end < args.start:
            raise ConfigError(f"--end {args.end} is before --start {args.start}")
        return DateRange(start=args.start, end=args.end)
    raise ConfigError("a date is required: --date YYYY-MM-DD, or --start and --end for a range")


@contextmanager
def open_job(args: argparse.Namespace, name: str, use_case: bool = True, dated: bool = True) -> Iterator[Job]:
    """Load and validate configuration first (fail fast, before any JVM starts), then the session."""
    from atelier.spark.session import build_session

    platform = load_platform(args.conf_dir, args.env, args.overrides)
    uc = load_use_case(args.use_case, args.conf_dir, args.env, args.overrides) if use_case else None
    dates = date_range(args) if use_case and dated else None
    spark = build_session(platform, app_name=f"atelier-{name}" + (f"-{uc.name}" if uc else ""))
    yield Job(platform=platform, spark=spark, use_case_or_none=uc, dates_or_none=dates)


def run_main(fn, argv: list[str] | None) -> int:
    """Run a CLI/job main: an AtelierError becomes one clear line on stderr and its exit status
    (2 for a refused input; atelier.errors lists them), also recorded in $ATELIER_OUTCOME_FILE for the
    orchestrator (atelier.outcome). Any other exception propagates (exit status 1)."""
    setup_logging()
    try:
        fn(argv)
    except AtelierError as exc:
        error = f"{type(exc).__name__}: {exc}"
        log.error("%s", error)
        outcome.record(exc.exit_status, error)
        return exc.exit_status
    return 0


def write_summary(path: Path | None, summary: dict) -> None:
    """Write a job's JSON summary (for the orchestrator's next task) atomically, if a path was given."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(summary, indent=1, sort_keys=True, default=str))
    partial.replace(path)


def add_summary_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--summary-json",
        type=Path,
        metavar="PATH",
        help="also write the outcome as JSON to PATH (what the Airflow DAGs read)",
    )


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (YYYY-MM-DD)") from None
