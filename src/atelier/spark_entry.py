"""The Spark tools' commands: `atelier tables`, `sql`, `submit` and `spark-sql`.

A module of its own beside atelier.spark, not inside it: these commands start jobs through atelier.runtime,
which itself imports atelier.spark (a package importing runtime would close a cycle).
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import subprocess
import sys
from pathlib import Path

from atelier.command import Command, format_table
from atelier.errors import ConfigError
from atelier.runtime import open_job

log = logging.getLogger("atelier")

JOBS_DIR = Path(__file__).resolve().parents[2] / "jobs"


def cmd_tables(args: argparse.Namespace) -> None:
    with open_job(args, "tables", use_case=False) as job:
        rows = [
            (t.name, str(t.version), str(t.rows), f"{t.last_write:%Y-%m-%d %H:%M:%S}", t.last_operation, t.location)
            for t in job.lake.tables()
        ]
    print(format_table(["table", "version", "rows", "last write", "operation", "location"], rows))


def cmd_sql(args: argparse.Namespace) -> None:
    """Run one read-only statement (a query, SHOW, DESCRIBE or EXPLAIN) and print its rows."""
    from atelier.spark.readonly import check_query

    with open_job(args, "sql", use_case=False) as job:
        check_query(job.spark, args.query)
        result = job.spark.sql(args.query)
        rows = [tuple("NULL" if v is None else str(v) for v in r) for r in result.limit(args.limit).collect()]
    print(format_table(result.columns, rows))


def add_sql_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", help="one Spark SQL query; tables by <database>.<table>")
    parser.add_argument("--limit", type=int, default=100, help="rows to print (default 100)")


def after_separator(rest: list[str]) -> list[str]:
    """The arguments passed on to another program, without the `--` that separates them from ours."""
    return rest[1:] if rest and rest[0] == "--" else rest


def cmd_submit(args: argparse.Namespace) -> None:
    """spark-submit a job file with Delta's jars and the platform's Spark settings."""
    from atelier.config.loader import load_platform
    from atelier.spark.session import submit_args, submit_env

    platform = load_platform(args.conf_dir, args.env, args.overrides)
    job_file = JOBS_DIR / f"{args.job}.py"
    if not job_file.is_file():
        raise ConfigError(f"no job file {job_file}; jobs: {sorted(p.stem for p in JOBS_DIR.glob('*.py'))}")
    command = [
        str(Path(sys.executable).parent / "spark-submit"),
        *submit_args(platform),
        str(job_file),
        *after_separator(args.job_args),
    ]
    log.info("running: %s", shlex.join(command))
    code = subprocess.call(command, env=submit_env(platform))
    if code:
        raise SystemExit(code)


def add_submit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", help="job name: a file jobs/<JOB>.py")
    parser.add_argument("job_args", nargs=argparse.REMAINDER, help="arguments for the job (after --)")


def cmd_spark_sql(args: argparse.Namespace) -> None:
    """Start Spark's own `spark-sql` shell on the same catalog, jars and settings as the jobs."""
    from atelier.config.loader import load_platform
    from atelier.spark.session import prepare_catalog, secret_properties, submit_args, submit_env

    platform = load_platform(args.conf_dir, args.env, args.overrides)
    prepare_catalog(platform)
    bin_dir = Path(sys.executable).parent
    # Delta answers min/max/count from its log as java.time.LocalDate, which the spark-sql shell
    # cannot print for DATE columns (ClassCastException); the shell reads the files instead.
    workaround = ["--conf", "spark.databricks.delta.optimizeMetadataQuery.enabled=false"]
    env = {**submit_env(platform), "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    with secret_properties(platform) as secrets:
        command = [
            str(bin_dir / "spark-sql"),
            *submit_args(platform),
            *secrets,
            *workaround,
            *after_separator(args.sql_args),
        ]
        code = subprocess.call(command, env=env)
    if code:
        raise SystemExit(code)


def add_spark_sql_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sql_args", nargs=argparse.REMAINDER, help="spark-sql arguments (after --), e.g. -e QUERY")


TABLES = Command(
    "tables", "List every Delta table in the lake with its version, row count and last write.", "", cmd_tables
)
SQL = Command(
    "sql",
    "Run one read-only Spark SQL statement over the catalog (a query, SHOW, DESCRIBE or EXPLAIN; anything "
    "that writes is refused) and print the result.",
    '"SELECT flight_date, count(*) FROM gold.flight_features GROUP BY 1 ORDER BY 1"',
    cmd_sql,
    add_sql_arguments,
)
SUBMIT = Command(
    "submit",
    "spark-submit a job file from jobs/ with Delta's jars and the platform's Spark settings (what Airflow runs).",
    "collect -- --use-case flights_delay --date 2013-01-01",
    cmd_submit,
    add_submit_arguments,
)
SPARK_SQL = Command(
    "spark-sql",
    "Open Spark's spark-sql shell (or run -e QUERY) on the lake's catalog.",
    "-- -e 'SELECT flight_date, count(*) FROM gold.flight_features GROUP BY 1'",
    cmd_spark_sql,
    add_spark_sql_arguments,
)
