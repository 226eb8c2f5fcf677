"""Delta table I/O: atomic partition replacement, catalog registration, versions and listings.

Tables live at `<lake_root>/<database>/<table>` and are registered in the catalog as external
Delta tables, so `spark-sql` finds them by name and the lake alone can rebuild the catalog.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from atelier.config.schema import PlatformConfig
from atelier.errors import TableError
from atelier.identifiers import check_table_name, quoted

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TableInfo:
    name: str
    version: int
    rows: int
    last_write: dt.datetime
    last_operation: str
    location: str


def split_name(name: str) -> tuple[str, str]:
    """(database, table) of `<database>.<table>`, each an identifier (every table name reaches SQL text)."""
    return check_table_name(name, "table name")


def table_path(platform: PlatformConfig, name: str) -> Path:
    db, table = split_name(name)
    return Path(platform.lake_root).resolve() / db / table


def ensure_table_registered(spark: SparkSession, platform: PlatformConfig, name: str) -> None:
    """Create the database and the catalog entry pointing at the table's Delta location.

    The lake is the truth: an entry that points elsewhere (a catalog shared by two lakes, or a lake
    moved) is re-pointed at this one, so a name always reads the table a job just wrote. Dropping an
    external table's entry leaves its files alone.
    """
    db, table = split_name(name)
    db_path = Path(platform.lake_root).resolve() / db
    location = table_path(platform, name)
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {quoted(db)} LOCATION {_string_literal(str(db_path))}")
    if spark.catalog.tableExists(name):
        registered = spark.sql(f"DESCRIBE DETAIL {quoted(db, table)}").first()["location"]
        if Path(registered.removeprefix("file:")) == location:
            return
        log.warning("catalog entry %s pointed at %s; re-pointing it at %s", name, registered, location)
        spark.sql(f"DROP TABLE {quoted(db, table)}")
    spark.sql(f"CREATE TABLE {quoted(db, table)} USING DELTA LOCATION {_string_literal(str(location))}")


def _string_literal(value: str) -> str:
    """`value` as a Spark SQL string literal (backslashes and quotes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def date_predicate(column: str, start: dt.date, end: dt.date) -> str:
    return f"{quoted(column)} >= DATE'{start.isoformat()}' AND {quoted(column)} <= DATE'{end.isoformat()}'"


def replace_dates(
    spark: SparkSession,
    platform: PlatformConfig,
    df: DataFrame,
    name: str,
    date_column: str,
    start: dt.date,
    end: dt.date,
    metadata: dict[str, object] | None = None,
) -> int:
    """Atomically replace the rows of `name` whose `date_column` is in [start, end] with `df`.

    One Delta commit (`replaceWhere`): readers see the old rows or the new ones, never a mix, and a
    rerun for the same dates leaves the same rows. Delta rejects rows of `df` outside the range.
    Returns the table's new version.
    """
    path = table_path(platform, name)
    writer = (
        df.repartition(date_column)  # one file per date, not one per task and date
        .write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", date_predicate(date_column, start, end))
        .partitionBy(date_column)
    )
    if metadata:
        writer = writer.option("userMetadata", json.dumps(metadata, sort_keys=True, default=str))
    writer.save(str(path))
    ensure_table_registered(spark, platform, name)
    version = current_version(spark, platform, name)
    log.info("wrote %s dates %s..%s as version %d", name, start, end, version)
    return version


def replace_table(
    spark: SparkSession,
    platform: PlatformConfig,
    df: DataFrame,
    name: str,
    metadata: dict[str, object] | None = None,
) -> int:
    """Atomically replace the whole table (one commit, so the previous version stays readable)."""
    writer = df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
    if metadata:
        writer = writer.option("userMetadata", json.dumps(metadata, sort_keys=True, default=str))
    writer.save(str(table_path(platform, name)))
    ensure_table_registered(spark, platform, name)
    return current_version(spark, platform, name)


def exists(platform: PlatformConfig, name: str) -> bool:
    return (table_path(platform, name) / "_delta_log").is_dir()


def read_table(
    spark: SparkSession, platform: PlatformConfig, name: str, version: int | None = None
) -> DataFrame:
    """Read a table by name from the lake, optionally at a Delta version (time travel)."""
    if not exists(platform, name):
        raise TableError(f"table {name} does not exist at {table_path(platform, name)}: run the job that writes it")
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(str(table_path(platform, name)))


def current_version(spark: SparkSession, platform: PlatformConfig, name: str) -> int:
    history = DeltaTable.forPath(spark, str(table_path(platform, name))).history(1).collect()
    return int(history[0]["version"])


def last_commit_rows(spark: SparkSession, platform: PlatformConfig, name: str) -> int:
    """Rows written by the table's latest commit (Delta's `numOutputRows` metric)."""
    last = DeltaTable.forPath(spark, str(table_path(platform, name))).history(1).collect()[0]
    return int((last["operationMetrics"] or {}).get("numOutputRows", 0))


def append(
    spark: SparkSession, platform: PlatformConfig, df: DataFrame, name: str, metadata: dict[str, object] | None = None
) -> int:
    """Append `df` in one commit (for logs such as ops tables); returns the new version."""
    writer = df.write.format("delta").mode("append")
    if metadata:
        writer = writer.option("userMetadata", json.dumps(metadata, sort_keys=True, default=str))
    writer.save(str(table_path(platform, name)))
    ensure_table_registered(spark, platform, name)
    return current_version(spark, platform, name)


def table_info(spark: SparkSession, platform: PlatformConfig, name: str) -> TableInfo:
    path = str(table_path(platform, name))
    last = DeltaTable.forPath(spark, path).history(1).collect()[0]
    rows = spark.read.format("delta").load(path).count()
    return TableInfo(
        name=name,
        version=int(last["version"]),
        rows=rows,
        last_write=last["timestamp"],
        last_operation=str(last["operation"]),
        location=path,
    )


def table_names(platform: PlatformConfig, database: str | None = None) -> list[str]:
    """The Delta tables under the lake root (of one database if given), by name."""
    lake = Path(platform.lake_root).resolve()
    return sorted(f"{p.parent.parent.name}.{p.parent.name}" for p in lake.glob(f"{database or '*'}/*/_delta_log"))


def list_tables(spark: SparkSession, platform: PlatformConfig) -> list[TableInfo]:
    """Every Delta table under the lake root, with its version, row count and last write."""
    return [table_info(spark, platform, n) for n in table_names(platform)]
