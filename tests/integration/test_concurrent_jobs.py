"""Job processes at once on one lake, with a shared catalog (PostgreSQL, as the compose stack has).

The embedded Derby catalog admits one JVM; a shared catalog admits several. On a copy of the test
lake, each test starts `atelier` jobs as processes together, checks they all succeed and overlap,
that each commit is in the tables' histories, and that the tables equal what the same jobs write
one at a time:
- three processes registering every table of the lake at one moment in a new catalog (one entry each);
- `features` for June 20-22 and for June 23-25 and `collect` for July 1-2;
- `score` for July 4 and for July 5, on a lake without prediction tables (both jobs create them),
  then `reconcile` for July 4 while `collect` for July 5 rewrites the outcomes it reads.
Commits of one table from several processes are safe through atelier's log store
(test_log_store.py); writers of disjoint dates do not conflict.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import psycopg
import pytest
import yaml
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from tests.conftest import ATELIER, REPO, rooted_platform, run_atelier, settings_of
from tests.integration.conftest import scoring_overrides, scoring_use_case

from atelier.catalog import INGESTED_AT, SCORE_DATE, SOURCE
from atelier.config.platform import PlatformConfig
from atelier.monitoring.reconcile import reconcile
from atelier.scoring.batch import score_dates
from atelier.spark.session import ivy_jars_dir
from atelier.spark.tables import Lake

log = logging.getLogger(__name__)
pytestmark = [pytest.mark.integration, pytest.mark.e2e]
JDBC = "org.postgresql:postgresql:42.7.4"
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ", re.MULTILINE)
JOBS = {
    "features A": ("features", dt.date(2013, 6, 20), dt.date(2013, 6, 22)),
    "features B": ("features", dt.date(2013, 6, 23), dt.date(2013, 6, 25)),
    "collect": ("collect", dt.date(2013, 7, 1), dt.date(2013, 7, 2)),
}
CHECKED = {
    "gold.flight_features": ("flight_date", JOBS["features A"][1], JOBS["features B"][2]),
    "bronze.flights": ("_batch_date", JOBS["collect"][1], JOBS["collect"][2]),
}
SCORED = (dt.date(2013, 7, 4), dt.date(2013, 7, 5))
# a run's own identity and the versions it read: they differ between runs by design
RUN_COLUMNS = [
    "scoring_run_id",
    "scored_at",
    "features_version",
    "reconcile_run_id",
    "computed_at",
    "predictions_version",
    "outcomes_version",
]


def logged_span(output: str) -> tuple[dt.datetime, dt.datetime]:
    """The times of a job's first and last log lines."""
    stamps = [dt.datetime.strptime(m, "%Y-%m-%d %H:%M:%S,%f") for m in LOG_TIME.findall(output)]
    return min(stamps), max(stamps)


def jdbc_jar() -> Path:
    """PostgreSQL's JDBC driver in the Ivy cache (fetched once)."""
    jar = ivy_jars_dir() / f"{JDBC.replace(':', '_', 1).replace(':', '-')}.jar"
    if not jar.is_file():
        subprocess.run([str(Path(ATELIER).parent / "python"), "scripts/fetch_jars.py", JDBC], cwd=REPO, check=True)
    return jar


def catalog_flags(postgres: str, database: str) -> list[str]:
    """`--set` flags that put a job's catalog in a new PostgreSQL database `database`, with the compose
    stack's DataNucleus settings (conf/compose/platform.yaml). The catalog's own tables are created by
    its first user."""
    with psycopg.connect(postgres, autocommit=True) as db:
        db.execute(f"CREATE DATABASE {database}")
    server = postgres.rsplit("/", 1)[0].removeprefix("postgresql://atelier@")
    compose = yaml.safe_load((REPO / "conf" / "compose" / "platform.yaml").read_text())["spark"]["extra_conf"]
    catalog = {
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:postgresql://{server}/{database}",
        "spark.hadoop.javax.jdo.option.ConnectionDriverName": "org.postgresql.Driver",
        "spark.hadoop.javax.jdo.option.ConnectionUserName": "atelier",
        **{k: v for k, v in compose.items() if k.startswith("spark.hadoop.datanucleus.")},
        "spark.driver.extraClassPath": jdbc_jar(),
    }
    return [f"--set=spark.extra_conf.{k}={v}" for k, v in catalog.items()]


@pytest.fixture(scope="module")
def shared(
    training_lake: PlatformConfig, postgres: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[PlatformConfig, list[str]]:
    """A copy of the test lake with its catalog in PostgreSQL; the `--set` flags that point jobs at both."""
    root = tmp_path_factory.mktemp("shared-catalog")
    shutil.copytree(training_lake.lake_root, root / "lake")
    flags = [*settings_of(rooted_platform(root)), *catalog_flags(postgres, "metastore")]
    run_atelier("sql", "SHOW DATABASES", *flags, env=dict(os.environ))  # creates the catalog's tables once
    return training_lake.model_copy(update={"lake_root": str(root / "lake")}), flags


def run_together(jobs: dict[str, list[str]], flags: list[str]) -> dict[str, str]:
    """Start `atelier ARGS... FLAGS` for every job at once; assert they all succeed and overlapped in
    time. Returns each job's output."""
    started = time.monotonic()
    running = {
        name: subprocess.Popen(
            [ATELIER, *args, "--use-case", "flights_delay", *flags],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, args in jobs.items()
    }
    outputs = {name: p.communicate(timeout=900)[0] for name, p in running.items()}
    failed = {
        name: [line for line in out.splitlines() if "Error" in line or "Exception" in line][:10] + [out[-1500:]]
        for name, out in outputs.items()
        if running[name].returncode
    }
    assert not failed, failed
    spans = {name: logged_span(out) for name, out in outputs.items()}
    retried = {name: out.count("conflicted with a concurrent commit") for name, out in outputs.items()}
    log.info(
        "%d jobs at once in %.0f s, commits retried after a conflict: %s; spans: %s",
        len(jobs),
        time.monotonic() - started,
        retried,
        spans,
    )
    assert max(s for s, _ in spans.values()) < min(e for _, e in spans.values()), f"they did not overlap: {spans}"
    return outputs


def assert_same_rows(
    spark: SparkSession, name: str, where: F.Column, mine: PlatformConfig, reference: PlatformConfig, ignored: list[str]
) -> None:
    """`name` has the same rows in both lakes where `where` holds, but for the `ignored` columns
    (doubles compared to 9 decimals: a sum's order may differ)."""

    def rows(lake: PlatformConfig):
        df = Lake(spark, lake).read(name).filter(where).drop(*ignored)
        return df.select([F.round(c, 9).alias(c) if t == "double" else F.col(c) for c, t in df.dtypes])

    a, b = rows(mine), rows(reference)
    assert a.count() == b.count() > 0, name
    assert a.exceptAll(b).count() == 0 and b.exceptAll(a).count() == 0, name


def test_jobs_registering_the_same_new_tables_at_once_leave_one_catalog_entry_each(
    shared: tuple[PlatformConfig, list[str]], postgres: str, tmp_path: Path
) -> None:
    root = Path(shared[0].lake_root)
    names = sorted(f"{t.parent.name}.{t.name}" for t in root.glob("*/*") if (t / "_delta_log").is_dir())
    flags = [*settings_of(rooted_platform(root.parent)), *catalog_flags(postgres, "racing")]
    run_atelier("sql", "SHOW DATABASES", *flags, env=dict(os.environ))  # its first user, alone
    barrier = tmp_path / "barrier"  # each process waits there until all three have started their session
    barrier.mkdir()
    racing = [
        subprocess.Popen(
            [
                str(Path(ATELIER).parent / "python"),
                "-m",
                "tests.integration.register_tables",
                str(barrier),
                "3",
                *names,
                *flags,
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=600)[0] for p in racing]
    log.info("%d tables registered by 3 processes at once", len(names))
    assert all(p.returncode == 0 for p in racing), [out[-3000:] for out in outputs]
    server = postgres.rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/racing") as db:
        databases = db.execute('SELECT "NAME" FROM "DBS"').fetchall()
        entries = db.execute('SELECT "NAME", "TBL_NAME" FROM "TBLS" JOIN "DBS" USING ("DB_ID")').fetchall()
    assert sorted(f"{d}.{t}" for d, t in entries) == names
    assert len(databases) == len(set(databases)) == len({n.split(".")[0] for n in names}) + 1  # and `default`


def test_two_features_jobs_and_a_collect_at_once_all_succeed_with_the_reference_tables(
    spark: SparkSession, training_lake: PlatformConfig, shared: tuple[PlatformConfig, list[str]]
) -> None:
    lake, flags = shared
    before = {name: Lake(spark, lake).version(name) for name in CHECKED}
    run_together(
        {name: [job, "--start", str(start), "--end", str(end)] for name, (job, start, end) in JOBS.items()}, flags
    )
    history = {
        name: spark.sql(f"DESCRIBE HISTORY delta.`{Lake(spark, lake).path(name)}`").collect() for name in CHECKED
    }
    new = {name: [h for h in rows if h["version"] > before[name]] for name, rows in history.items()}
    assert len(new["gold.flight_features"]) == 2 and len(new["bronze.flights"]) == 1, new
    for name, (column, start, end) in CHECKED.items():  # lineage columns: when, from which cache
        assert_same_rows(spark, name, F.col(column).between(start, end), lake, training_lake, [INGESTED_AT, SOURCE])


def test_two_score_jobs_at_once_then_a_reconcile_while_outcomes_are_collected(
    spark: SparkSession, training_lake: PlatformConfig, arms: dict[str, str], shared: tuple[PlatformConfig, list[str]]
) -> None:
    lake, flags = shared
    uc = scoring_use_case(arms)
    flags = [
        *flags,
        f"--set=mlflow.tracking_uri={training_lake.mlflow.tracking_uri}",  # the registered arms
        f"--set=mlflow.artifact_root={training_lake.mlflow.artifact_root}",
        *(f"--set={o}" for o in scoring_overrides(arms)),
    ]
    written = (uc.scoring.predictions_table, "ml.prediction_log")
    for name in written:  # the first commit of a new table is a race of its own
        shutil.rmtree(Lake(spark, lake).path(name), ignore_errors=True)
    run_together({f"score {day}": ["score", "--date", str(day)] for day in SCORED}, flags)
    score_dates(Lake(spark, training_lake), uc, *SCORED)  # the reference: both days by one job
    for name in written:
        assert [
            h["version"] for h in spark.sql(f"DESCRIBE HISTORY delta.`{Lake(spark, lake).path(name)}`").collect()
        ] == [1, 0], name
        assert_same_rows(spark, name, F.col(SCORE_DATE).isin(*SCORED), lake, training_lake, RUN_COLUMNS)

    day, outcomes = SCORED[0], uc.tables.outcomes  # July 5's collect rewrites outcomes that July 4 reads
    before = Lake(spark, lake).version(outcomes)
    run_together(
        {"reconcile": ["reconcile", "--date", str(day)], "collect": ["collect", "--date", str(SCORED[1])]}, flags
    )
    assert Lake(spark, lake).version(outcomes) == before + 1
    reconcile(Lake(spark, training_lake), uc, day, day)
    assert_same_rows(
        spark, uc.monitoring.live_metrics_table, F.col(SCORE_DATE) == day, lake, training_lake, RUN_COLUMNS
    )
