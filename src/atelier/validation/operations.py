"""What users run on validated tables: validate a table's dates after the fact, list the
quarantine, and release quarantined rows back once they pass (exactly once)."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from delta.tables import DeltaTable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from atelier.catalog import QUARANTINE_DATE, quarantine_table
from atelier.config.platform import PlatformConfig
from atelier.config.use_case import UseCaseConfig
from atelier.config.validation import TableValidation
from atelier.errors import ConfigError
from atelier.identifiers import quoted
from atelier.spark.tables import Lake
from atelier.validation import gate
from atelier.validation.gate import JSON_OPTIONS, UNPARSED, Scope
from atelier.validation.rules import FAILED, applicable, flag_rows
from atelier.validation.targets import Target, validated_target

log = logging.getLogger(__name__)


def target(platform: PlatformConfig, use_case: UseCaseConfig, role: str) -> tuple[Target, TableValidation]:
    """The validated table `role` and its rules; an error if the use case has no rules for it."""
    found = validated_target(platform, use_case, role)
    if found.rules is None:
        known = sorted(use_case.validation.tables)
        raise ConfigError(f"use case '{use_case.name}' has no validation rules for table '{role}'; it has {known}")
    return found, found.rules


def validate_table(lake: Lake, use_case: UseCaseConfig, role: str, start: dt.date, end: dt.date) -> dict[str, int]:
    """Validate the dates of an existing table; rows that now break a row rule move to the quarantine."""
    t, table_rules = target(lake.platform, use_case, role)
    scope = Scope("validate", uuid.uuid4().hex, t.table, t.date_column, start, end)
    rows = lake.read(t.table).filter(F.col(t.date_column).between(start, end))
    rules = table_rules.model_copy(update={"row_rules": applicable(rows, table_rules.row_rules)})
    outcome = gate.check(lake, scope, rows, rules, t.expected)
    failed = sum(m.rows_failed for m in outcome.measures.values())
    rows_in = sum(m.rows_in for m in outcome.measures.values())
    quarantined = gate.write_quarantine(lake, outcome)  # before the table loses those rows
    if failed:
        written = lake.replace_dates(
            outcome.passed, t.table, t.date_column, start, end, {"job": "validate", "run_id": scope.run_id}
        ).rows
    else:
        written = rows_in
    gate.confirm(lake, outcome, written, quarantined)
    return {"rows_in": rows_in, "passed": written, "quarantined": failed}


def quarantine_summary(lake: Lake) -> DataFrame:
    """Per quarantine table, date and rule: how many rows wait, and from which run."""
    frames = []
    for name in lake.names(lake.platform.databases.quarantine):
        frames.append(
            lake.read(name).select(
                F.lit(name).alias("quarantine_table"),
                QUARANTINE_DATE,
                F.explode("failed_rules").alias("rule"),
                "run_id",
            )
        )
    if not frames:
        return lake.spark.createDataFrame(
            [], "quarantine_table string, date date, rule string, rows long, run_id string"
        )
    union = frames[0]
    for frame in frames[1:]:
        union = union.unionByName(frame)
    return (
        union.groupBy("quarantine_table", F.col(QUARANTINE_DATE).alias("date"), "rule")
        .agg(F.count(F.lit(1)).alias("rows"), F.max("run_id").alias("run_id"))
        .orderBy("quarantine_table", "date", "rule")
    )


def release(lake: Lake, use_case: UseCaseConfig, role: str, start: dt.date, end: dt.date) -> dict[str, int]:
    """Re-validate quarantined rows with the current rules; move those that pass back, exactly once.

    The move is a MERGE that inserts only rows the table does not already hold (so a rerun after a
    crash inserts nothing twice), then a delete of the released rows from the quarantine.
    """
    t, rules = target(lake.platform, use_case, role)
    qname = quarantine_table(lake.platform, t.table)
    if not lake.exists(qname):
        return {"released": 0, "still_quarantined": 0}
    table_schema = lake.read(t.table).schema
    waiting = lake.read(qname).filter(F.col(QUARANTINE_DATE).between(start, end))
    columns = _row_columns(table_schema, t.expected)
    ddl = ", ".join(f"{quoted(name)} {kind}" for name, kind in columns.items())
    parsed = waiting.withColumn("__r", F.from_json("row", ddl, JSON_OPTIONS))
    # Rows that did not parse wait for a fixed source and a new collect: no rule releases them.
    unparsed = F.exists("failed_rules", lambda rule: rule.startswith(f"{UNPARSED}:")).alias("__unparsed")
    values = parsed.select("row", unparsed, *[F.col(f"__r.`{c}`").alias(c) for c in columns])
    # Materialized, lineage cut, before the tables change: the commits below must not alter what is released.
    rechecked = flag_rows(values, applicable(values, rules.row_rules)).localCheckpoint(eager=True)
    passing = rechecked.filter((F.size(FAILED) == 0) & ~F.col("__unparsed"))
    released = passing.count()
    still = rechecked.count() - released
    if released:
        condition = " AND ".join(f"{quoted('t', c)} <=> {quoted('s', c)}" for c in table_schema.names)
        lake.retry_conflicts(
            f"{t.table} release of dates {start}..{end}",
            lambda: (
                DeltaTable.forPath(lake.spark, str(lake.path(t.table)))
                .alias("t")
                .merge(passing.select(*table_schema.names).alias("s"), condition)
                .whenNotMatchedInsertAll()
                .execute()
            ),
        )
        rows = [r["row"] for r in passing.select("row").collect()]
        lake.retry_conflicts(
            f"{qname} dates {start}..{end}",
            lambda: DeltaTable.forPath(lake.spark, str(lake.path(qname))).delete(
                F.col(QUARANTINE_DATE).between(start, end) & F.col("row").isin(rows)
            ),
        )
    log.info("released %d row(s) of %s %s..%s; %d still quarantined", released, t.table, start, end, still)
    return {"released": released, "still_quarantined": still}


def _row_columns(table_schema: StructType, expected: dict[str, str]) -> dict[str, str]:
    """The table's columns plus the validated columns it does not keep (a source's outcome columns)."""
    columns = {f.name: f.dataType.simpleString() for f in table_schema.fields}
    return {**columns, **{c: kind for c, kind in expected.items() if c not in columns}}
