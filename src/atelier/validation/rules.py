"""Row and table rules as Spark expressions, evaluated in one pass over the data.

Pure functions: `flag_rows` adds the names of the row rules each row breaks; `table_measures`
gives the aggregate columns that table rules are judged on, so that counting rows per rule and
measuring the table is a single Spark job.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from atelier.config.validation import RowRule, TableRule

log = logging.getLogger(__name__)
FAILED = "_failed_rules"


def row_valid(rule: RowRule) -> Column:
    """True where the row meets `rule` (never null)."""
    if rule.type == "not_null":
        valid = F.lit(True)
        for column in rule.checked_columns():
            valid = valid & F.col(column).isNotNull()
        return valid
    if rule.type == "sql":
        return F.coalesce(F.expr(rule.condition), F.lit(False))
    value = F.col(rule.column)
    if rule.type == "between":
        check = F.lit(True)
        if rule.min is not None:
            check = check & (value >= rule.min)
        if rule.max is not None:
            check = check & (value <= rule.max)
    elif rule.type == "in_set":
        check = value.isin(list(rule.values))
    else:
        check = value.cast("string").rlike(rule.pattern)
    return value.isNull() | check


def applicable(df: DataFrame, rules: list[RowRule]) -> list[RowRule]:
    """The rules whose columns `df` has (checked by analysis, no Spark job): a table that keeps
    fewer columns than were validated when it was written (bronze without outcome columns)."""
    kept = []
    for rule in rules:
        try:
            df.select(row_valid(rule)).schema  # noqa: B018 - analysing the select raises for a missing column
            kept.append(rule)
        except AnalysisException:
            log.info(
                "rule '%s' skipped: %s lacks its columns",
                rule.name,
                rule.condition if rule.type == "sql" else rule.checked_columns(),
            )
    return kept


def flag_rows(df: DataFrame, rules: list[RowRule]) -> DataFrame:
    """Add `_failed_rules`: the names of the row rules the row breaks (empty when it passes)."""
    names = [F.when(~row_valid(r), F.lit(r.name)) for r in rules]
    failed = F.filter(F.array(*names), lambda n: n.isNotNull()) if names else F.array().cast("array<string>")
    return df.withColumn(FAILED, failed)


def passed(flagged: DataFrame) -> DataFrame:
    return flagged.filter(F.size(FAILED) == 0).drop(FAILED)


def rejected(flagged: DataFrame) -> DataFrame:
    return flagged.filter(F.size(FAILED) > 0)


@dataclass(frozen=True)
class Measures:
    """What one aggregation found for one date of a flagged table."""

    rows_in: int = 0
    rows_failed: int = 0
    failures_by_rule: dict[str, int] = field(default_factory=dict)
    duplicate_keys: dict[str, int] = field(default_factory=dict)
    latest: dict[str, object] = field(default_factory=dict)


def measure(
    flagged: DataFrame, date_column: str, row_rules: list[RowRule], table_rules: list[TableRule]
) -> dict[dt.date, Measures]:
    """Per date: rows in, rows failing (per rule and in all), duplicate keys, latest event times.

    One Spark job, whatever the number of rules.
    """
    aggs = [F.count(F.lit(1)).alias("rows_in"), F.sum((F.size(FAILED) > 0).cast("long")).alias("rows_failed")]
    aggs += [F.sum(F.array_contains(FAILED, r.name).cast("long")).alias(f"rule_{i}") for i, r in enumerate(row_rules)]
    for i, rule in enumerate(table_rules):
        if rule.type == "unique":
            key = F.struct(*[F.col(c) for c in rule.columns])
            aggs.append((F.count(F.lit(1)) - F.count_distinct(key)).alias(f"dup_{i}"))
        elif rule.type == "freshness":
            aggs.append(F.max(rule.column).alias(f"latest_{i}"))
    return {
        row[date_column]: Measures(
            rows_in=int(row["rows_in"]),
            rows_failed=int(row["rows_failed"] or 0),
            failures_by_rule={r.name: int(row[f"rule_{i}"] or 0) for i, r in enumerate(row_rules)},
            duplicate_keys={r.name: int(row[f"dup_{i}"]) for i, r in enumerate(table_rules) if r.type == "unique"},
            latest={r.name: row[f"latest_{i}"] for i, r in enumerate(table_rules) if r.type == "freshness"},
        )
        for row in flagged.groupBy(F.col(date_column).cast("date").alias(date_column)).agg(*aggs).collect()
    }
