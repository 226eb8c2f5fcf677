"""Delta table I/O: atomic partition replacement, catalog registration, versions and listings.

Tables live at `<lake_root>/<database>/<table>` (a local folder or an object-store URI, see
`atelier.spark.lake`) and are registered in the catalog as external Delta tables, so `spark-sql`
finds them by name and the lake alone can rebuild the catalog. A job builds one `Lake` (its Spark
session and platform configuration) and reads and writes every table through it.

Every write is one Delta commit, or none when it changes nothing (Delta commits no replacement
that adds no row and removes none): that is a success too, reported as such (`Commit.committed`).
Writes of dates replace them with `replaceWhere` on the date partition column, so writers of
disjoint dates do not conflict; a write that does conflict with a concurrent commit is run again
with exponential backoff (`platform.writes`), then fails with a WriteConflict (exit status 75, which
the DAGs retry). Each commit carries a `write_id` in its userMetadata, by which a writer finds its
own commit when other writers commit after it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from delta import exceptions as delta_errors
from delta.tables import DeltaTable
from pyspark.errors.exceptions.captured import AnalysisException, CapturedException
from pyspark.sql import DataFrame, DataFrameWriter, SparkSession
from pyspark.sql import functions as F

from atelier.config.platform import PlatformConfig
from atelier.errors import TableError, WriteConflict
from atelier.identifiers import check_table_name, quoted
from atelier.spark import lake as storage

log = logging.getLogger(__name__)

# Delta's commit conflicts as PySpark raises them (delta.exceptions converts the JVM's; in
# delta-spark 3.3 they are siblings, not subclasses of DeltaConcurrentModificationException).
CONFLICTS: tuple[type[CapturedException], ...] = (
    delta_errors.DeltaConcurrentModificationException,
    delta_errors.ConcurrentWriteException,
    delta_errors.MetadataChangedException,
    delta_errors.ProtocolChangedException,
    delta_errors.ConcurrentAppendException,
    delta_errors.ConcurrentDeleteReadException,
    delta_errors.ConcurrentDeleteDeleteException,
    delta_errors.ConcurrentTransactionException,
)
COMMITS_SCANNED = 100  # how far back in the history a writer looks for its own commit


@dataclass(frozen=True)
class Commit:
    """What a write left: the table's version after it, and the rows the write's commit wrote (none
    when Delta made no commit because the write changed nothing: `committed` is False)."""

    version: int
    rows: int
    committed: bool


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


def registered_location(spark: SparkSession, db: str, table: str) -> str | None:
    """The location the catalog entry of `db.table` points at; None when no Delta table is there any more.

    From the entry itself (DESCRIBE TABLE EXTENDED), not DESCRIBE DETAIL, which rebuilds the Delta
    table's state for its file count and size: ~0.5 s after every commit.
    """
    try:
        rows = spark.sql(f"DESCRIBE TABLE EXTENDED {quoted(db, table)}").collect()
    except AnalysisException as exc:
        if exc.getErrorClass() == "DELTA_PATH_DOES_NOT_EXIST":
            return None
        raise
    found = [r["data_type"] for r in rows if r["col_name"] == "Location"]
    if not found:
        raise TableError(f"catalog entry {db}.{table} has no location")
    return found[0]


def _string_literal(value: str) -> str:
    """`value` as a Spark SQL string literal (backslashes and quotes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def date_predicate(column: str, start: dt.date, end: dt.date) -> str:
    return f"{quoted(column)} >= DATE'{start.isoformat()}' AND {quoted(column)} <= DATE'{end.isoformat()}'"


@dataclass(frozen=True)
class Lake:
    """The lake a job reads and writes: its Spark session and platform configuration, built once per job."""

    spark: SparkSession
    platform: PlatformConfig

    def path(self, name: str) -> str:
        """The table's location: `<lake root>/<database>/<table>`."""
        return storage.join(storage.root(self.platform), *split_name(name))

    def register(self, name: str) -> None:
        """Create the database and the catalog entry pointing at the table's Delta location.

        The lake is the truth: an entry that points elsewhere (a catalog shared by two lakes, or a lake
        moved) is re-pointed at this one, so a name always reads the table a job just wrote. Dropping an
        external table's entry leaves its files alone.
        """
        spark = self.spark
        db, table = split_name(name)
        location = self.path(name)
        spark.sql(
            f"CREATE DATABASE IF NOT EXISTS {quoted(db)} "
            f"LOCATION {_string_literal(storage.join(storage.root(self.platform), db))}"
        )
        if spark.catalog.tableExists(name):
            registered = registered_location(spark, db, table)
            if registered is not None and storage.same_location(registered, location):
                return
            log.warning(
                "catalog entry %s pointed at %s; re-pointing it at %s", name, registered or "no Delta table", location
            )
            spark.sql(f"DROP TABLE {quoted(db, table)}")
        # A job in another process may register the same new table meanwhile: IF NOT EXISTS covers it until
        # the catalog's own create, which then refuses (AlreadyExistsException); its entry is the one wanted.
        try:
            spark.sql(
                f"CREATE TABLE IF NOT EXISTS {quoted(db, table)} USING DELTA LOCATION {_string_literal(location)}"
            )
        except CapturedException as exc:
            if not spark.catalog.tableExists(name):
                raise
            log.info("catalog entry %s registered meanwhile by another job (%s)", name, str(exc).splitlines()[0][:200])

    def date_tasks(self, start: dt.date, end: dt.date) -> int:
        """Tasks for work partitioned by date over [start, end]: one per date, at most the cores."""
        return max(1, min((end - start).days + 1, self.spark.sparkContext.defaultParallelism))

    def replace_dates(
        self,
        df: DataFrame,
        name: str,
        date_column: str,
        start: dt.date,
        end: dt.date,
        metadata: Mapping[str, object] | None = None,
    ) -> Commit:
        """Atomically replace the rows of `name` whose `date_column` is in [start, end] with `df`.

        One Delta commit (`replaceWhere` on the partition column): readers see the old rows or the new
        ones, never a mix; a rerun for the same dates leaves the same rows; a concurrent writer of other
        dates does not conflict. Delta rejects rows of `df` outside the range. Returns the version of
        what it committed.
        """
        # One file per date (not one per task and date), written by as many tasks as there are cores: a
        # repartition by column alone is coalesced by AQE into one task for small data, which then writes
        # every date's file in turn.
        writer = (
            df.repartition(self.date_tasks(start, end), date_column)
            .write.format("delta")
            .mode("overwrite")
            .option("replaceWhere", date_predicate(date_column, start, end))
            .partitionBy(date_column)
        )
        commit = self._commit(name, f"dates {start}..{end}", writer, metadata)
        if commit.committed:
            log.info("wrote %s dates %s..%s as version %d (%d rows)", name, start, end, commit.version, commit.rows)
        return commit

    def replace(self, df: DataFrame, name: str, metadata: Mapping[str, object] | None = None) -> Commit:
        """Atomically replace the whole table (one commit, so the previous version stays readable)."""
        writer = df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
        return self._commit(name, "whole table", writer, metadata)

    def append(self, df: DataFrame, name: str, metadata: Mapping[str, object] | None = None) -> Commit:
        """Append `df` in one commit (for logs such as ops tables)."""
        return self._commit(name, "append", df.write.format("delta").mode("append"), metadata)

    def _commit(self, name: str, what: str, writer: DataFrameWriter, metadata: Mapping[str, object] | None) -> Commit:
        """Save `writer` to the table as one commit (retried on conflicts), register it; what it committed."""
        path = self.path(name)
        write_id = uuid.uuid4().hex
        writer = writer.option(
            "userMetadata", json.dumps({**(metadata or {}), "write_id": write_id}, sort_keys=True, default=str)
        )
        self.retry_conflicts(f"{name} {what}", lambda: writer.save(path))
        self.register(name)
        return self._commit_of(name, what, write_id)

    def retry_conflicts(self, what: str, write: Callable[[], object]) -> None:
        """Run `write` (one Delta commit); when a concurrent commit conflicts with it, again after a backoff.

        Each retry is logged; after `platform.writes.attempts` conflicts, a WriteConflict names `what`
        (the table and its dates) and the last conflict. The write must be idempotent (a replacement of
        dates, a MERGE on keys, or an append that did not commit).
        """
        policy = self.platform.writes
        for attempt in range(1, policy.attempts + 1):
            try:
                write()
                return
            except CONFLICTS as exc:
                summary = (exc.desc or "").partition("\n")[0]
                conflict = f"{type(exc).__name__}: {summary}"
                if attempt == policy.attempts:
                    raise WriteConflict(
                        f"{what}: gave up after {attempt} attempt(s), each in conflict with a concurrent commit "
                        f"to the same table; the last: {conflict}. Another job is writing these rows: rerun when "
                        "it is done, or raise writes.attempts"
                    ) from exc
                delay = min(policy.max_backoff_s, policy.backoff_s * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
                log.warning(
                    "%s: attempt %d of %d conflicted with a concurrent commit (%s); retrying in %.2fs",
                    what,
                    attempt,
                    policy.attempts,
                    conflict,
                    delay,
                )
                time.sleep(delay)

    def _commit_of(self, name: str, what: str, write_id: str) -> Commit:
        """The commit that `write_id` marks (other writers may have committed after it). A write that
        returned without one changed nothing: Delta commits no replacement that adds and removes no row."""
        history = DeltaTable.forPath(self.spark, self.path(name)).history(COMMITS_SCANNED)
        found = (
            history.filter(F.get_json_object("userMetadata", "$.write_id") == write_id)
            .select("version", "operationMetrics")
            .first()
        )
        if found is not None:
            return Commit(int(found["version"]), int((found["operationMetrics"] or {}).get("numOutputRows", 0)), True)
        version = self.version(name)
        log.info(
            "nothing to write for %s %s: no row to add or remove, so no commit; the table stays at version %d",
            name,
            what,
            version,
        )
        return Commit(version, 0, False)

    def exists(self, name: str) -> bool:
        """Whether the table has a commit: a `_delta_log` left empty by a first write that died is no table."""
        entries = storage.children(storage.join(self.path(name), "_delta_log")) or []
        return any(e.endswith(".json") or ".checkpoint" in e for e in entries)

    def read(self, name: str, version: int | None = None) -> DataFrame:
        """Read a table by name from the lake, optionally at a Delta version (time travel)."""
        if not self.exists(name):
            raise TableError(f"table {name} does not exist at {self.path(name)}: run the job that writes it")
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        return reader.load(self.path(name))

    def version(self, name: str) -> int:
        """The table's current Delta version."""
        history = DeltaTable.forPath(self.spark, self.path(name)).history(1).collect()
        return int(history[0]["version"])

    def info(self, name: str) -> TableInfo:
        """The table's version, row count, last write and location."""
        path = self.path(name)
        last = DeltaTable.forPath(self.spark, path).history(1).collect()[0]
        rows = self.spark.read.format("delta").load(path).count()
        return TableInfo(
            name=name,
            version=int(last["version"]),
            rows=rows,
            last_write=last["timestamp"],
            last_operation=str(last["operation"]),
            location=path,
        )

    def names(self, database: str | None = None) -> list[str]:
        """The Delta tables under the lake root (of one database if given), by name."""
        logs = storage.glob(storage.root(self.platform), f"{database or '*'}/*/_delta_log")
        found = (".".join(p.split("/")[:2]) for p in logs)
        return sorted(n for n in found if self.exists(n))

    def tables(self) -> list[TableInfo]:
        """Every Delta table under the lake root, with its version, row count and last write."""
        return [self.info(n) for n in self.names()]
