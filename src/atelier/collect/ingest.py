"""The collect job: sources -> bronze Delta tables, and observed outcomes -> the outcomes table.

Event sources are collected one date range at a time into `bronze.<source>` (partition
`_batch_date`); reference sources become a new table version only when their content changed.
Columns known only after the event (`outcome_columns`) never reach bronze: they go to the
outcomes table, `outcome_delay_days` after the event date.

Every source is read and checked before anything is written, so a bad source fails the job
with no table touched; each table write is then one atomic Delta commit. Rows that do not parse
(a value that does not fit its type, a line that does not decode) go to the bronze table's
quarantine, or fail the job, as the source's `on_parse_error` says; more than `max_bad_share` of
the dates' rows so quarantined fail it. Per source, rows read = rows written + rows quarantined +
rows of other dates: logged, in the report, and checked.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from atelier.catalog import (
    BATCH_DATE,
    INGESTED_AT,
    OUTCOME_DATE,
    OUTCOMES,
    QUARANTINE_DATE,
    QUARANTINE_ROW,
    SOURCE,
    bronze_table,
)
from atelier.collect import sources as src
from atelier.config.common import DateRange
from atelier.config.sources import SourceConfig
from atelier.config.use_case import UseCaseConfig
from atelier.errors import SourceError
from atelier.features.keys import dedupe_latest, with_entity_key
from atelier.spark.tables import Lake
from atelier.validation import gate
from atelier.validation.gate import UNPARSED, GateOutcome, Scope, ValidationError
from atelier.validation.rules import flag_rows, passed

log = logging.getLogger(__name__)


@dataclass
class CollectReport:
    run_id: str
    rows: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    sources: dict[str, dict[str, int]] = field(
        default_factory=dict
    )  # per source: read, written, quarantined, other_dates


@dataclass(frozen=True)
class Tally:
    """A source's rows as the check counted them (lines that do not decode included)."""

    read: int
    in_dates: int  # rows of the collected dates (for a reference source: all), those that did not parse included
    unparsed: dict[dt.date, int]  # of those, per date, the rows that did not parse
    by_column: dict[str, int]  # values that do not fit their column's type, per column, in the collected dates
    undecodable: int  # lines that do not decode (counted for the first date)

    @property
    def other_dates(self) -> int:
        return self.read - self.in_dates


@dataclass(frozen=True)
class CheckedSource:
    """A source read, typed and checked: the rows that parsed (stamped, dated for events), those that
    did not (quarantine rows of the collected dates), and the counts."""

    name: str
    config: SourceConfig
    location: str
    rows: DataFrame
    unparsed: DataFrame
    tally: Tally
    cached: DataFrame  # the persisted frame behind `rows`, released after the writes


@dataclass(frozen=True)
class Batch:
    """One run of the collect job: where it writes, for which use case and dates."""

    lake: Lake
    use_case: UseCaseConfig
    start: dt.date
    end: dt.date
    report: CollectReport

    def metadata(self, **extra: object) -> dict[str, object]:
        return {"job": "collect", "run_id": self.report.run_id, "use_case": self.use_case.name, **extra}


def collect(lake: Lake, use_case: UseCaseConfig, start: dt.date, end: dt.date) -> CollectReport:
    """Collect every source of `use_case` for [start, end] and the outcomes that have matured by then.

    Every source is read, typed and validated (row rules, table rules) before any table is written.
    """
    batch = Batch(lake, use_case, start, end, CollectReport(run_id=uuid.uuid4().hex))
    checked = [check_source(lake, use_case, n, s, start, end) for n, s in use_case.sources.items()]
    gates = {s.name: _gate(batch, s) for s in checked if s.config.kind == "events"}
    for source in checked:
        if source.config.kind == "reference":
            _account(batch, source, _write_reference(batch, source), _quarantine(batch, source))
            continue
        _write_events(batch, source, gates[source.name])
        if source.config.outcome_columns:
            _write_outcomes(batch, source)
    for source in checked:
        source.cached.unpersist()
    log.info("collect %s %s..%s done: %s", use_case.name, start, end, batch.report.rows)
    return batch.report


def _gate(batch: Batch, source: CheckedSource) -> GateOutcome | None:
    """Validate the source's rows for the collected dates, if the use case has rules for it."""
    validation = batch.use_case.validation
    rules = validation.tables.get(source.name)
    if not (validation.on_write and rules):
        return None
    table = bronze_table(batch.lake.platform, source.name)
    scope = Scope("collect", batch.report.run_id, table, BATCH_DATE, batch.start, batch.end)
    rows = source.rows.filter(F.col(BATCH_DATE).between(batch.start, batch.end))
    return gate.check(batch.lake, scope, rows, rules, dict(source.config.columns))


def check_source(
    lake: Lake,
    use_case: UseCaseConfig,
    name: str,
    source: SourceConfig,
    start: dt.date,
    end: dt.date,
) -> CheckedSource:
    """Read one source and check its columns, types, share of rows that do not parse and (for events)
    that the dates have rows.

    A row that does not parse is dated by its own date, or the first date when that did not parse
    either; a reference source's rows all count for the first date.
    """
    located = src.resolve_location(name, source, Path(lake.platform.cache_dir))
    location = located.location
    raw = src.read_raw(lake.spark, name, source, located)
    flagged, bad = src.apply_schema(raw, name, source, location)
    reference = source.kind == "reference"
    delay = dt.timedelta(days=use_case.outcome_delay_days if source.outcome_columns else 0)
    unparsed_row = F.col(src.REASONS).isNotNull()
    if reference:
        date = F.lit(start)
    else:
        assert source.date_expr is not None  # SourceConfig requires it of an 'events' source
        date = F.expr(source.date_expr).cast("date")
    read = Observation()
    dated = flagged.observe(read, F.count(F.lit(1)).alias("rows")).withColumn(
        BATCH_DATE, F.coalesce(date, F.when(unparsed_row, F.lit(start)))
    )
    # Kept after the check, so that the writes do not parse the source again.
    scoped = dated.filter(F.col(BATCH_DATE).between(start - delay, end)).persist(StorageLevel.MEMORY_AND_DISK)
    counts = src.check_types(scoped, raw, bad, name, source, location, group_by=BATCH_DATE)
    in_dates = {d: c for d, c in counts.items() if isinstance(d, dt.date) and start <= d <= end}  # grouped by a date
    lines = sum(len(found) for found in located.undecodable.values())
    # Spark reports no observed metrics for a persisted plan that came out empty: then count again.
    rows_read = read.get.get("rows")
    tally = _tally(in_dates, dated.count() if rows_read is None else rows_read, lines, start)
    _check_share(name, source, location, tally, start, end)
    missing = [] if reference else [d for d in DateRange(start=start, end=end).dates() if d not in counts]
    if missing and name == use_case.clean.primary:
        bounds = dated.agg(F.min(BATCH_DATE), F.max(BATCH_DATE)).collect()[0]
        raise SourceError(
            f"source '{name}' ({location}) has no rows for {len(missing)} of the requested date(s), first "
            f"{missing[0]}; its data covers {bounds[0]}..{bounds[1]} (date_expr: {source.date_expr})"
        )
    if missing:
        log.warning(
            "source '%s' has no rows for %d date(s) of %s..%s, first %s", name, len(missing), start, end, missing[0]
        )
    stamp = {SOURCE: F.lit(f"{name}:{location}"), INGESTED_AT: F.current_timestamp()}
    rows = src.drop_flags(scoped.filter(~unparsed_row)).withColumns(stamp)
    quarantined = _unparsed_rows(scoped.filter(unparsed_row & F.col(BATCH_DATE).between(start, end))).unionByName(
        _undecodable_rows(lake.spark, located, start)
    )
    return CheckedSource(
        name, source, location, rows.drop(BATCH_DATE) if reference else rows, quarantined, tally, scoped
    )


def _tally(in_dates: dict[dt.date, src.Counted], read: int, lines: int, start: dt.date) -> Tally:
    """The counts of a source whose Spark frame had `read` rows, and `lines` lines that did not decode
    (counted for the first date)."""
    unparsed = {d: c.unparsed for d, c in in_dates.items()}
    if lines:
        unparsed[start] = unparsed.get(start, 0) + lines
    return Tally(
        read + lines, sum(c.rows for c in in_dates.values()) + lines, unparsed, src.bad_values(in_dates.values()), lines
    )


def _check_share(name: str, source: SourceConfig, location: str, tally: Tally, start: dt.date, end: dt.date) -> None:
    """Fail if more than `max_bad_share` of the dates' rows did not parse."""
    bad = sum(tally.unparsed.values())
    if bad > source.max_bad_share * tally.in_dates:
        columns = {c: tally.by_column[c] for c in source.columns if tally.by_column.get(c)}
        raise SourceError(
            f"source '{name}' ({location}): {bad} of the {tally.in_dates} row(s) of {start}..{end} do not parse "
            f"({bad / tally.in_dates:.1%}, above max_bad_share {source.max_bad_share:g}): values that are not of "
            f"their column's type {columns or 'none'}, lines that do not decode as {source.encoding}: "
            f"{tally.undecodable}; nothing written"
        )


def _unparsed_rows(rows: DataFrame) -> DataFrame:
    """Rows that did not parse as quarantine rows: their date, the reasons, their values as read."""
    return rows.select(
        F.col(BATCH_DATE).alias(QUARANTINE_DATE),
        F.transform(src.REASONS, lambda reason: F.concat(F.lit(f"{UNPARSED}: "), reason)).alias("failed_rules"),
        F.col(src.RAW).alias("row"),
    )


def _undecodable_rows(spark: SparkSession, located: src.Located, day: dt.date) -> DataFrame:
    """Lines that did not decode as quarantine rows of `day`: the reason, the file, line number and bytes (hex)."""
    rows = [
        (
            day,
            [f"{UNPARSED}: line {line.number}: {line.reason}"],
            json.dumps({"file": file, "line": line.number, "hex": line.data.hex()}),
        )
        for file, found in located.undecodable.items()
        for line in found
    ]
    return spark.createDataFrame(rows, QUARANTINE_ROW)


def _write_events(batch: Batch, source: CheckedSource, gated: GateOutcome | None) -> None:
    """The dates' rows (those that passed validation) to bronze; the rejected ones and those that
    did not parse to the quarantine."""
    rows = gated.passed if gated else source.rows.filter(F.col(BATCH_DATE).between(batch.start, batch.end))
    events = rows.drop(*source.config.outcome_columns)
    table = bronze_table(batch.lake.platform, source.name)
    commit = batch.lake.replace_dates(
        events,
        table,
        BATCH_DATE,
        batch.start,
        batch.end,
        batch.metadata(source=source.location),
    )
    batch.report.versions[table], batch.report.rows[table] = commit.version, commit.rows
    if gated:
        counted = gate.count_unparsed(gated, source.tally.unparsed)
        quarantined = gate.write_quarantine(batch.lake, counted, source.unparsed)
        gate.confirm(batch.lake, counted, commit.rows, quarantined)
    else:
        quarantined = _quarantine(batch, source)
    _account(batch, source, commit.rows, quarantined)


def _quarantine(batch: Batch, source: CheckedSource) -> int:
    """The source's rows that did not parse to its bronze table's quarantine (no validation rules ran)."""
    scope = Scope(
        "collect",
        batch.report.run_id,
        bronze_table(batch.lake.platform, source.name),
        BATCH_DATE,
        batch.start,
        batch.end,
    )
    return gate.store_quarantine(batch.lake, scope, source.unparsed, any(source.tally.unparsed.values()))


def _account(batch: Batch, source: CheckedSource, written: int, quarantined: int) -> None:
    """Log and report rows read = written + quarantined + of other dates; fail if they do not add up."""
    tally = source.tally
    counts = {"read": tally.read, "written": written, "quarantined": quarantined, "other_dates": tally.other_dates}
    batch.report.sources[source.name] = counts
    log.info(
        "source '%s' %s..%s: %d rows read = %d written + %d quarantined + %d of other dates",
        source.name,
        batch.start,
        batch.end,
        *counts.values(),
    )
    if tally.read != written + quarantined + tally.other_dates:
        raise ValidationError(f"source '{source.name}' {batch.start}..{batch.end}: rows do not add up: {counts}")


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
    contract = OUTCOMES.columns_for(
        entity=use_case.entity.key, date=use_case.date_column, outcomes=source.config.outcome_columns
    )
    outcomes = outcomes.select(*contract)  # the contract's columns, in its order
    table = use_case.tables.outcomes
    commit = batch.lake.replace_dates(
        outcomes,
        table,
        OUTCOME_DATE,
        batch.start,
        batch.end,
        batch.metadata(outcome_delay_days=delay.days),
    )
    batch.report.versions[table], batch.report.rows[table] = commit.version, commit.rows


def _write_reference(batch: Batch, source: CheckedSource) -> int:
    """A new snapshot version of a reference table, only if its content changed (so reruns add nothing);
    the snapshot's rows."""
    lake = batch.lake
    table = bronze_table(lake.platform, source.name)
    content = list(source.config.columns)
    fingerprint = _fingerprint(source.rows, content)
    batch.report.rows[table] = fingerprint[0]
    current = lake.read(table) if lake.exists(table) else None
    if current is not None and set(content) <= set(current.columns) and _fingerprint(current, content) == fingerprint:
        batch.report.unchanged.append(table)
        log.info("%s unchanged since its last snapshot; no new version", table)
        return fingerprint[0]
    snapshot = source.rows.withColumn(BATCH_DATE, F.lit(batch.end))
    batch.report.versions[table] = lake.replace(
        snapshot, table, batch.metadata(snapshot_of=str(batch.end), source=source.location)
    ).version
    return fingerprint[0]


def _fingerprint(df: DataFrame, columns: list[str]) -> tuple[int, int]:
    """Row count and an order-independent hash of the rows' content."""
    row = df.agg(F.count(F.lit(1)), F.sum(F.xxhash64(*columns).cast("decimal(38,0)"))).collect()[0]
    return int(row[0]), int(row[1] or 0)
