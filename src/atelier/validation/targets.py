"""The tables a use case validates: a source's bronze table, `silver` and `features`."""

from __future__ import annotations

from dataclasses import dataclass

from atelier.catalog import BATCH_DATE, bronze_table
from atelier.config.platform import PlatformConfig
from atelier.config.use_case import UseCaseConfig
from atelier.config.validation import TableValidation
from atelier.errors import ConfigError


@dataclass(frozen=True)
class Target:
    """A table of a use case: its name, date column, rules (None: not validated) and column types."""

    role: str
    table: str
    date_column: str
    rules: TableValidation | None
    expected: dict[str, str]


def validated_target(platform: PlatformConfig, use_case: UseCaseConfig, role: str) -> Target:
    """`role` is a source name (its bronze table), `silver` or `features`."""
    rules = use_case.validation.tables.get(role)
    if role in use_case.sources:
        source = use_case.sources[role]
        kept = {c: t for c, t in source.columns.items() if c not in source.outcome_columns}  # outcomes leave bronze
        return Target(role, bronze_table(platform, role), BATCH_DATE, rules, kept)
    if role == "silver":
        return Target(role, use_case.tables.silver, use_case.date_column, rules, {})
    if role == "features":
        expected = {
            c: ("string" if f.type == "categorical" else "double")
            for f in use_case.features
            for c in f.output_columns()
        }
        return Target(role, use_case.tables.features, use_case.date_column, rules, expected)
    raise ConfigError(f"use case '{use_case.name}' has no table '{role}': use a source name, 'silver' or 'features'")
