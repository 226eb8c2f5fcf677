"""Cleaning: derived columns from SQL expressions and rules for impossible values."""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from atelier.config.cleaning import RuleConfig


def derive(df: DataFrame, expressions: Mapping[str, str]) -> DataFrame:
    """Add (or replace) columns from Spark SQL expressions, in order, each seeing the ones before."""
    for name, expr in expressions.items():
        df = df.withColumn(name, F.expr(expr))
    return df


def apply_rules(df: DataFrame, rules: list[RuleConfig]) -> DataFrame:
    """Apply cleaning rules: `drop` removes rows whose condition is not true; `set_null` nulls columns.

    A condition that evaluates to null counts as broken, so a rule never lets unknown values through.
    """
    for rule in rules:
        holds = F.coalesce(F.expr(rule.condition), F.lit(False))
        if rule.action == "drop":
            df = df.filter(holds)
        else:
            for column in rule.columns:
                df = df.withColumn(column, F.when(holds, F.col(column)))
    return df
