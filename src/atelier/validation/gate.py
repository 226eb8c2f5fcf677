"""The validation gate: split rows by row rules, judge table rules, quarantine, record, report.

    outcome = check(...)           # one pass: flags, per-date measures; table rules judged; no writes
    (write outcome.passed to the target table)
    confirm(..., outcome, written) # quarantine written; rows in = written + quarantined; run recorded

A table-rule breach raises `ValidationError` before anything is written (the failed run is
recorded, and the Data Docs page says why). Rows that break row rules go to
`quarantine.<database>_<table>` with the rule names, the row's values as JSON, the run id and the
date; rerunning a date replaces that date's quarantine, so nothing is quarantined twice. Rows of
a source that did not parse come shaped for the quarantine (`write_quarantine(..., unparsed)`),
their entries in `failed_rules` prefixed `unparsed: `, and are counted as rule `unparsed`
(`count_unparsed`).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace
from pathlib import Path

from delta.tables import DeltaTable
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from atelier.catalog import QUARANTINE_DATE, VALIDATION_RUNS, quarantine_table, validation_runs_table
from atelier.config.common import DateRange
from atelier.config.platform import PlatformConfig
from atelier.config.validation import TableValidation
from atelier.errors import AtelierError
from atelier.spark.tables import Lake
from atelier.validation.judge import Breach, date_breaches, schema_breaches
from atelier.validation.report import DataDocs
from atelier.validation.rules import FAILED, Measures, flag_rows, measure, passed, rejected

log = logging.getLogger(__name__)

# Input that did not parse: the prefix of its entries in `failed_rules`, its rule in `failures_by_rule`.
UNPARSED = "unparsed"
JSON_OPTIONS = {"timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"}  # microseconds survive a release
_docs: dict[Path, DataDocs] = {}


class ValidationError(AtelierError):
    """A table rule failed, or rows went missing between the gate and the tables."""


@dataclass(frozen=True)
class Scope:
    """Who validates what: the job and run, the target table and its date column and dates."""

    job: str
    run_id: str
    table: str
    date_column: str
    start: dt.date
    end: dt.date

    def dates(self) -> list[dt.date]:
        return DateRange(start=self.start, end=self.end).dates()


@dataclass(frozen=True)
class GateOutcome:
    scope: Scope
    flagged: DataFrame  # the input rows with their failed rules, persisted until `confirm`
    measures: dict[dt.date, Measures]
    report: Path | None

    @property
    def passed(self) -> DataFrame:
        return passed(self.flagged)


def reports_dir(platform: PlatformConfig) -> Path:
    return Path(platform.reports_dir) / "data_docs"


def check(
    lake: Lake,
    scope: Scope,
    frame: DataFrame,
    rules: TableValidation,
    expected_schema: dict[str, str],
) -> GateOutcome:
    """Flag rows, measure them per date in one pass, judge the table rules, run the GX suite.

    Writes nothing but the report (and, on a breach, the failed run's record).
    """
    flagged = flag_rows(frame, rules.row_rules).persist(StorageLevel.MEMORY_AND_DISK)
    measures = measure(flagged, scope.date_column, rules.row_rules, rules.table_rules)
    actual = {f.name: f.dataType.simpleString() for f in frame.schema.fields}
    breaches = schema_breaches(rules.table_rules, actual, expected_schema) + date_breaches(
        rules.table_rules, scope.dates(), measures, _trailing_averages(lake, scope, rules, measures)
    )
    folder = reports_dir(lake.platform)
    if folder not in _docs:
        _docs[folder] = DataDocs(folder)  # one GX context per process and reports folder
    docs = _docs[folder]
    # GX reads the persisted rows: its one-job-per-expectation never recomputes the frame's lineage.
    report = docs.validate(
        flagged.drop(FAILED),
        scope.table,
        f"{scope.job}-{scope.run_id}",
        rules,
        list(expected_schema),
        len(scope.dates()),
    )
    if breaches:
        _record(lake, scope, measures, {}, breaches, report.page)
        flagged.unpersist()
        raise ValidationError(
            f"{scope.table} {scope.start}..{scope.end} failed {len(breaches)} table rule(s): "
            + "; ".join(map(str, breaches))
            + f". Report: {report.page}"
        )
    return GateOutcome(scope, flagged, measures, report.page)


def confirm(lake: Lake, outcome: GateOutcome, written: int, quarantined: int | None = None) -> None:
    """Check rows in = rows written + rows quarantined and record the run per date.

    Writes the quarantine first unless the caller already did (`quarantined` given): a job that
    removes rows from a table must quarantine them before it rewrites the table.
    """
    scope = outcome.scope
    if quarantined is None:
        quarantined = write_quarantine(lake, outcome)
    outcome.flagged.unpersist()
    rows_in = sum(m.rows_in for m in outcome.measures.values())
    log.info(
        "%s %s..%s: %d rows in, %d written, %d quarantined; report %s",
        scope.table,
        scope.start,
        scope.end,
        rows_in,
        written,
        quarantined,
        outcome.report,
    )
    counts = {"written": written, "quarantined": quarantined}
    if rows_in != written + quarantined:
        lost = Breach(
            "rows_in_equals_written_plus_quarantined",
            None,
            f"{written} written + {quarantined} quarantined",
            f"{rows_in} (rows in)",
        )
        _record(lake, scope, outcome.measures, counts, [lost], outcome.report)
        raise ValidationError(f"{scope.table} {scope.start}..{scope.end}: {lost}")
    _record(lake, scope, outcome.measures, counts, [], outcome.report)


def write_quarantine(lake: Lake, outcome: GateOutcome, unparsed: DataFrame | None = None) -> int:
    """Replace the dates' quarantine with this run's rejected rows, and the `unparsed` ones given
    (rows of the input that did not parse, already as `_date`, `failed_rules`, `row`)."""
    scope, flagged = outcome.scope, outcome.flagged
    data_columns = [c for c in flagged.columns if c != FAILED]
    rows = rejected(flagged).select(
        F.col(scope.date_column).cast("date").alias(QUARANTINE_DATE),
        F.col(FAILED).alias("failed_rules"),
        F.to_json(F.struct(*[F.col(f"`{c}`") for c in data_columns]), JSON_OPTIONS).alias("row"),
    )
    if unparsed is not None:
        rows = rows.unionByName(unparsed)
    return store_quarantine(lake, scope, rows, any(m.rows_failed for m in outcome.measures.values()))


def store_quarantine(lake: Lake, scope: Scope, rows: DataFrame, rejected_any: bool) -> int:
    """Put `rows` (`_date`, `failed_rules`, `row`) in the scope's quarantine; the rows it holds now for them.

    `validate` adds to it; other jobs replace the dates' quarantine (none is a valid, empty
    replacement, skipped when nothing is rejected and nothing held).
    """
    rows = rows.withColumns(
        {"job": F.lit(scope.job), "run_id": F.lit(scope.run_id), "quarantined_at": F.current_timestamp()}
    )
    name = quarantine_table(lake.platform, scope.table)
    meta = {"job": scope.job, "run_id": scope.run_id, "table": scope.table}
    if scope.job == "validate" and lake.exists(name):
        # The table no longer holds rows quarantined earlier: add, never replace; a rerun adds nothing twice.
        lake.retry_conflicts(
            f"{name} dates {scope.start}..{scope.end}",
            lambda: (
                DeltaTable.forPath(lake.spark, str(lake.path(name)))
                .alias("q")
                .merge(rows.alias("r"), f"q.{QUARANTINE_DATE} = r.{QUARANTINE_DATE} AND q.row = r.row")
                .whenNotMatchedInsertAll()
                .execute()
            ),
        )
        # What counts is that every rejected row is now in the quarantine, inserted now or before.
        held = lake.read(name).select(QUARANTINE_DATE, "row")
        return rows.join(held, [QUARANTINE_DATE, "row"], "left_semi").count()
    if not rejected_any and not _holds(lake, name, scope):
        return 0  # nothing rejected now, nothing to clear: no empty commit
    # A job that derives the table's dates from its inputs replaces their whole quarantine: rows an
    # earlier `validate` moved there come from those inputs again, and are judged again.
    return lake.replace_dates(rows, name, QUARANTINE_DATE, scope.start, scope.end, meta).rows


def count_unparsed(outcome: GateOutcome, unparsed: dict[dt.date, int]) -> GateOutcome:
    """The outcome with the rows of its input that did not parse (per date) counted in, as rule `UNPARSED`:
    rows in = rows written + rows quarantined holds for all the input, and the runs' record shows them."""
    measures = dict(outcome.measures)
    for day, count in unparsed.items():
        if count:
            m = measures.get(day, Measures())
            measures[day] = replace(
                m,
                rows_in=m.rows_in + count,
                rows_failed=m.rows_failed + count,
                failures_by_rule={**m.failures_by_rule, UNPARSED: count},
            )
    return replace(outcome, measures=measures)


def _holds(lake: Lake, name: str, scope: Scope) -> bool:
    """Whether the quarantine holds rows for the scope's dates."""
    if not lake.exists(name):
        return False
    held = lake.read(name).filter(F.col(QUARANTINE_DATE).between(scope.start, scope.end))
    return bool(held.limit(1).count())


def _trailing_averages(
    lake: Lake, scope: Scope, rules: TableValidation, measures: dict[dt.date, Measures]
) -> dict[dt.date, float | None]:
    """Average rows per day over the trailing days: recorded runs (latest per date) and earlier dates of this run."""
    trailing = max((r.trailing_days for r in rules.table_rules if r.type == "row_count"), default=0)
    if not trailing:
        return {}
    first = scope.start - dt.timedelta(days=trailing)
    history: dict[dt.date, int] = {}
    if lake.exists(validation_runs_table(lake.platform)):
        recorded = (
            lake.read(validation_runs_table(lake.platform))
            .filter(
                (F.col("table_name") == scope.table)
                & F.col("date").between(first, scope.end)
                & (F.col("outcome") != "failed")
            )
            .groupBy("date")
            .agg(F.max_by("rows_in", "validated_at").alias("rows_in"))
            .collect()
        )
        history = {r["date"]: int(r["rows_in"]) for r in recorded}
    history.update({d: m.rows_in for d, m in measures.items()})
    averages = {}
    for day in scope.dates():
        window = [
            history[d]
            for d in DateRange(start=day - dt.timedelta(days=trailing), end=day - dt.timedelta(days=1)).dates()
            if d in history
        ]
        averages[day] = sum(window) / len(window) if window else None
    return averages


def _record(
    lake: Lake,
    scope: Scope,
    measures: dict[dt.date, Measures],
    counts: dict[str, int],
    breaches: list[Breach],
    report: Path | None,
) -> None:
    """One row per date in ops.validation_runs: counts, failures by rule, outcome, report."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = []
    for day in scope.dates():
        m = measures.get(day, Measures())
        day_breaches = [str(b) for b in breaches if b.date in (None, day)]
        outcome = "failed" if day_breaches else ("quarantined" if m.rows_failed else "passed")
        rows.append(
            (
                scope.run_id,
                scope.job,
                scope.table,
                day,
                m.rows_in,
                m.rows_in - m.rows_failed,
                m.rows_failed,
                {k: v for k, v in m.failures_by_rule.items() if v},
                outcome,
                day_breaches,
                str(report) if report else None,
                now,
            )
        )
    schema = (
        "run_id string, job string, table_name string, date date, rows_in long, rows_passed long, "
        "rows_quarantined long, failures_by_rule map<string,long>, outcome string, breaches array<string>, "
        "report string, validated_at timestamp"
    )
    lake.append(
        lake.spark.createDataFrame(rows, schema).select(*VALIDATION_RUNS.columns),
        validation_runs_table(lake.platform),
        {"job": scope.job, "run_id": scope.run_id, **counts},
    )
