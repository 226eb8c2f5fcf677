"""Job processes at once on one lake, with a shared catalog: two features jobs and a collect, side by side.

The embedded Derby catalog admits one JVM; a catalog on PostgreSQL (as the compose stack has) admits
several. On a copy of the test lake, `atelier features` for June 20-22 and for June 23-25 and
`atelier collect` for July 1-2 run as three processes started together; all three must succeed,
each commit must be in the tables' histories, and the tables must equal the reference lake's for
those days (the same source data). Commits of one table from several processes are safe through
atelier's log store (test_log_store.py); writers of disjoint dates do not conflict.
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
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from atelier.collect.ingest import INGESTED_AT, SOURCE
from atelier.config.schema import PlatformConfig
from atelier.spark import tables
from tests.conftest import ATELIER, REPO, run_atelier

log = logging.getLogger(__name__)
pytestmark = [pytest.mark.integration, pytest.mark.slow]
JDBC = "org.postgresql:postgresql:42.7.4"
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ", re.MULTILINE)
JOBS = {"features A": ("features", dt.date(2013, 6, 20), dt.date(2013, 6, 22)),
        "features B": ("features", dt.date(2013, 6, 23), dt.date(2013, 6, 25)),
        "collect": ("collect", dt.date(2013, 7, 1), dt.date(2013, 7, 2))}
CHECKED = {"gold.flight_features": ("flight_date", JOBS["features A"][1], JOBS["features B"][2]),
           "bronze.flights": ("_batch_date", JOBS["collect"][1], JOBS["collect"][2])}


def logged_span(output: str) -> tuple[dt.datetime, dt.datetime]:
    """The times of a job's first and last log lines."""
    stamps = [dt.datetime.strptime(m, "%Y-%m-%d %H:%M:%S,%f") for m in LOG_TIME.findall(output)]
    return min(stamps), max(stamps)


def jdbc_jar() -> Path:
    """PostgreSQL's JDBC driver in the Ivy cache (fetched once)."""
    jar = Path.home() / ".ivy2" / "jars" / f"{JDBC.replace(':', '_', 1).replace(':', '-')}.jar"
    if not jar.is_file():
        subprocess.run([str(Path(ATELIER).parent / "python"), "scripts/fetch_jars.py", JDBC], cwd=REPO, check=True)
    return jar


@pytest.fixture(scope="module")
def shared(training_lake: PlatformConfig, postgres: str, tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[PlatformConfig, list[str]]:
    """A copy of the test lake with its catalog in PostgreSQL; the `--set` flags that point jobs at both."""
    root = tmp_path_factory.mktemp("shared-catalog")
    shutil.copytree(training_lake.lake_root, root / "lake")
    with psycopg.connect(postgres, autocommit=True) as db:
        db.execute("CREATE DATABASE metastore")
    server = postgres.rsplit("/", 1)[0].removeprefix("postgresql://atelier@")
    catalog = {"javax.jdo.option.ConnectionURL": f"jdbc:postgresql://{server}/metastore",
               "javax.jdo.option.ConnectionDriverName": "org.postgresql.Driver",
               "javax.jdo.option.ConnectionUserName": "atelier",
               # as conf/compose/platform.yaml: no foreign-key DDL on first use (it deadlocks there)
               "datanucleus.schema.autoCreateAll": "false", "datanucleus.schema.autoCreateTables": "true",
               "datanucleus.schema.autoCreateColumns": "true", "datanucleus.schema.autoCreateConstraints": "false"}
    where = {"lake_root": root / "lake", "metastore_dir": root / "metastore", "cache_dir": root / "cache",
             "reports_dir": root / "reports", "mlflow.tracking_uri": f"sqlite:///{root}/mlflow.db",
             "mlflow.artifact_root": root / "artifacts", "spark.shuffle_partitions": 2, "spark.driver_memory": "1g",
             "spark.extra_conf.spark.driver.extraClassPath": jdbc_jar(),
             **{f"spark.extra_conf.spark.hadoop.{k}": v for k, v in catalog.items()}}
    flags = [f"--set={k}={v}" for k, v in where.items()]
    run_atelier("sql", "SHOW DATABASES", *flags, env=dict(os.environ))  # creates the catalog's tables once
    return training_lake.model_copy(update={"lake_root": str(root / "lake")}), flags


def test_two_features_jobs_and_a_collect_at_once_all_succeed_with_the_reference_tables(
        spark: SparkSession, training_lake: PlatformConfig, shared: tuple[PlatformConfig, list[str]]) -> None:
    lake, flags = shared
    before = {name: tables.current_version(spark, lake, name) for name in CHECKED}
    started = time.monotonic()
    running = {name: subprocess.Popen([ATELIER, job, "--use-case", "flights_delay", "--start", str(start),
                                       "--end", str(end), *flags], cwd=REPO, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)
               for name, (job, start, end) in JOBS.items()}
    outputs = {name: p.communicate(timeout=900)[0] for name, p in running.items()}
    failed = {name: [line for line in out.splitlines() if "Error" in line or "Exception" in line][:10] + [out[-1500:]]
              for name, out in outputs.items() if running[name].returncode}
    assert not failed, failed
    spans = {name: logged_span(out) for name, out in outputs.items()}
    log.info("3 jobs at once in %.0f s: %s", time.monotonic() - started, spans)
    assert max(s for s, _ in spans.values()) < min(e for _, e in spans.values()), f"they did not overlap: {spans}"
    history = {name: spark.sql(f"DESCRIBE HISTORY delta.`{tables.table_path(lake, name)}`").collect() for name in CHECKED}
    new = {name: [h for h in rows if h["version"] > before[name]] for name, rows in history.items()}
    assert len(new["gold.flight_features"]) == 2 and len(new["bronze.flights"]) == 1, new
    for name, (column, start, end) in CHECKED.items():
        mine, reference = (tables.read_table(spark, where, name).filter(F.col(column).between(start, end))
                           .drop(INGESTED_AT, SOURCE) for where in (lake, training_lake))  # lineage: when, which cache
        assert mine.count() == reference.count() > 0, name
        assert mine.exceptAll(reference).count() == 0 and reference.exceptAll(mine).count() == 0, name
