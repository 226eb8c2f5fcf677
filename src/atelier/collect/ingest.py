"""The collect job: sources -> bronze Delta tables, and observed outcomes -> the outcomes table.

Event sources are collected one date range at a time into `bronze.<source>` (partition
`_batch_date`); reference sources become a new table version only when their content changed.
Columns known only after the event (`outcome_columns`) never reach bronze: they go to the
outcomes table, `outcome_delay_days` after the event date.

Every source is read and checked before anything is written, so a bad source fails the job
with no table touched; each table write is then one atomic Delta commit.
"""
from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from atelier.collect import sources as src
from atelier.config.schema import DateRange, PlatformConfig, SourceConfig, UseCaseConfig
from atelier.errors import SourceError
from atelier.features.keys import dedupe_latest, with_entity_key
from atelier.spark import tables
from atelier.validation import gate
from atelier.validation.gate import GateOutcome, Scope
from atelier.validation.rules import flag_rows, passed

log = logging.getLogger(__name__)

BATCH_DATE = "_batch_date"
INGESTED_AT = "_ingested_at"
SOURCE = "_source"
OUTCOME_DATE = "outcome_date"


@dataclass
class CollectReport:
    run_id: str
    rows: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CheckedSource:
    """A source read, typed and checked: rows (stamped, dated for events) and row counts per date."""

    name: str
    config: SourceConfig
    location: str
    rows: DataFrame
    counts: dict[object, int]
    cached: DataFrame | None = None  # the persisted frame behind `rows`, released after the writes


def bronze_table(platform: PlatformConfig, source_name: str) -> str:
    return f"{platform.databases.bronze}.{source_name}"


@dataclass(frozen=True)
class Batch:
    """One run of the collect job: where it writes, for which use case and dates."""

    spark: SparkSession
    platform: PlatformConfig
    use_case: UseCaseConfig
    start: dt.date
    end: dt.date
    report: CollectReport

    def metadata(self, **extra: object) -> dict[str, object]:
        return {"job": "collect", "run_id": self.report.run_id, "use_case": self.use_case.name, **extra}


def collect(
    spark: SparkSession, platform: PlatformConfig, use_case: UseCaseConfig, start: dt.date, end: dt.date
) -> CollectReport:
    """Collect every source of `use_case` for [start, end] and the outcomes that have matured by then.

    Every source is read, typed and validated (row rules, table rules) before any table is written.
    """
    batch = Batch(spark, platform, use_case, start, end, CollectReport(run_id=uuid.uuid4().hex))
    checked = [check_source(spark, platform, use_case, n, s, start, end) for n, s in use_case.sources.items()]
    gates = {s.name: _gate(batch, s) for s in checked if s.config.kind == "events"}
    for source in checked:
        if source.config.kind == "reference":
            _write_reference(batch, source)
            continue
        _write_events(batch, source, gates[source.name])
        if source.config.outcome_columns:
            _write_outcomes(batch, source)
    for source in checked:
        if source.cached is not None:
            source.cached.unpersist()
    log.info("collect %s %s..%s done: %s", use_case.name, start, end, batch.report.rows)
    return batch.report


def _gate(batch: Batch, source: CheckedSource) -> GateOutcome | None:
    """Validate the source's rows for the collected dates, if the use case has rules for it."""
    validation = batch.use_case.validation
    rules = validation.tables.get(source.name)
    if not (validation.on_write and rules):
        return None
    table = bronze_table(batch.platform, source.name)
    scope = Scope("collect", batch.report.run_id, table, BATCH_DATE, batch.start, batch.end)
    rows = source.rows.filter(F.col(BATCH_DATE).between(batch.start, batch.end))
    return gate.check(batch.spark, batch.platform, scope, rows, rules, dict(source.config.columns))


def check_source(
    spark: SparkSession,
    platform: PlatformConfig,
    use_case: UseCaseConfig,
    name: str,
    source: SourceConfig,
    start: dt.date,
    end: dt.date,
) -> CheckedSource:
    """Read one source and check its columns, types and (for events) that the dates have rows."""
    location = src.resolve_location(name, source, Path(platform.cache_dir))
    raw = src.read_raw(spark, name, source, location)
    flagged, bad = src.apply_schema(raw, name, source, location)
    stamp = {SOURCE: F.lit(f"{name}:{location}"), INGESTED_AT: F.current_timestamp()}
    if source.kind == "reference":
        counts = src.check_types(flagged, raw, bad, name, source, location)
        return CheckedSource(name, source, location, src.drop_flags(flagged).withColumns(stamp), counts)
    delay = dt.timedelta(days=use_case.outcome_delay_days if source.outcome_columns else 0)
    dated = flagged.withColumn(BATCH_DATE, F.expr(source.date_expr).cast("date"))
    # Kept after the check, so that the writes do not parse the source again.
    scoped = dated.filter(F.col(BATCH_DATE).between(start - delay, end)).persist(StorageLevel.MEMORY_AND_DISK)
    counts = src.check_types(scoped, raw, bad, name, source, location, group_by=BATCH_DATE)
    missing = [d for d in DateRange(start=start, end=end).dates() if not counts.get(d)]
    if missing and name == use_case.clean.primary:
        bounds = dated.agg(F.min(BATCH_DATE), F.max(BATCH_DATE)).collect()[0]
        raise SourceError(
            f"source '{name}' ({location}) has no rows for {len(missing)} of the requested date(s), first "
            f"{missing[0]}; its data covers {bounds[0]}..{bounds[1]} (date_expr: {source.date_expr})"
        )
    if missing:
        log.warning("source '%s' has no rows for %d date(s) of %s..%s, first %s", name, len(missing), start, end, missing[0])
    return CheckedSource(name, source, location, src.drop_flags(scoped).withColumns(stamp), counts, scoped)


def _write_events(batch: Batch, source: CheckedSource, gated: GateOutcome | None) -> None:
    """The dates' rows (those that passed validation) to bronze; the rejected ones to the quarantine."""
    rows = gated.passed if gated else source.rows.filter(F.col(BATCH_DATE).between(batch.start, batch.end))
    events = rows.drop(*source.config.outcome_columns)
    table = bronze_table(batch.platform, source.name)
    batch.report.versions[table] = tables.replace_dates(
        batch.spark, batch.platform, events, table, BATCH_DATE, batch.start, batch.end,
        batch.metadata(source=source.location),
    )
    written = tables.last_commit_rows(batch.spark, batch.platform, table, batch.report.versions[table])
    batch.report.rows[table] = written
    if gated:
        gate.confirm(batch.spark, batch.platform, gated, written)


def _write_outcomes(batch: Batch, source: CheckedSource) -> None:
    """Outcomes of the events `outcome_delay_days` before each collected date, keyed by entity."""
    use_case = batch.use_case
    delay = dt.timedelta(days=use_case.outcome_delay_days)
    matured = source.rows.filter(F.col(BATCH_DATE).between(batch.start - delay, batch.end - delay))
    rules = use_case.validation.tables.get(source.name)
    if use_case.validation.on_write and rules:  # rows quarantined with their events get no outcome either
        matured = passed(flag_rows(matured, rules.row_rules))
    keyed = with_entity_key(matured, use_case.entity.key, use_case.entity.natural_key)
    outcomes = dedupe_latest(keyed, [use_case.entity.key, BATCH_DATE], INGESTED_AT).select(
        use_case.entity.key,
        F.col(BATCH_DATE).alias(use_case.date_column),
        F.date_add(F.col(BATCH_DATE), delay.days).alias(OUTCOME_DATE),
        *source.config.outcome_columns,
        INGESTED_AT,
    )
    table = use_case.tables.outcomes
    batch.report.versions[table] = tables.replace_dates(
        batch.spark, batch.platform, outcomes, table, OUTCOME_DATE, batch.start, batch.end,
        batch.metadata(outcome_delay_days=delay.days),
    )
    batch.report.rows[table] = tables.last_commit_rows(batch.spark, batch.platform, table, batch.report.versions[table])


def _write_reference(batch: Batch, source: CheckedSource) -> None:
    """A new snapshot version of a reference table, only if its content changed (so reruns add nothing)."""
    spark, platform = batch.spark, batch.platform
    table = bronze_table(platform, source.name)
    content = list(source.config.columns)
    fingerprint = _fingerprint(source.rows, content)
    batch.report.rows[table] = fingerprint[0]
    current = tables.read_table(spark, platform, table) if tables.exists(platform, table) else None
    if current is not None and set(content) <= set(current.columns) and _fingerprint(current, content) == fingerprint:
        batch.report.unchanged.append(table)
        log.info("%s unchanged since its last snapshot; no new version", table)
        return
    snapshot = source.rows.withColumn(BATCH_DATE, F.lit(batch.end))
    batch.report.versions[table] = tables.replace_table(
        spark, platform, snapshot, table, batch.metadata(snapshot_of=str(batch.end), source=source.location)
    )


def _fingerprint(df: DataFrame, columns: list[str]) -> tuple[int, int]:
    """Row count and an order-independent hash of the rows' content."""
    row = df.agg(F.count(F.lit(1)), F.sum(F.xxhash64(*columns).cast("decimal(38,0)"))).collect()[0]
    return int(row[0]), int(row[1] or 0)
