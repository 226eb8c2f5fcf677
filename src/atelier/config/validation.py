"""Expectations on the tables a use case writes: row rules (rows that break one are quarantined)
and table rules (a breach fails the job), one model per rule `type`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from atelier.config.common import StrictModel


class _RowRule(StrictModel):
    name: str
    type: str  # the tag: each kind narrows it to its Literal

    def checked_columns(self) -> list[str]:
        """The columns the rule reads (none named: a `sql` condition)."""
        return []


class NotNullRule(_RowRule):
    """A row rule: none of `columns` (or the one `column`) is null."""

    type: Literal["not_null"]
    column: str | None = None
    columns: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _some_column(self) -> NotNullRule:
        if not self.checked_columns():
            raise ValueError(f"row rule '{self.name}': not_null needs 'columns' (or 'column')")
        return self

    def checked_columns(self) -> list[str]:
        return self.columns or ([self.column] if self.column else [])


class _ColumnRule(_RowRule):
    column: str = Field(min_length=1)

    def checked_columns(self) -> list[str]:
        return [self.column]


class BetweenRule(_ColumnRule):
    """A row rule: `column` is at least `min` and at most `max` (either may be left out); nulls pass."""

    type: Literal["between"]
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _some_bound(self) -> BetweenRule:
        if self.min is None and self.max is None:
            raise ValueError(f"row rule '{self.name}': between needs 'min' or 'max' (or both)")
        return self


class InSetRule(_ColumnRule):
    """A row rule: `column` is one of `values`; nulls pass."""

    type: Literal["in_set"]
    values: list[Any] = Field(min_length=1)


class RegexRule(_ColumnRule):
    """A row rule: `column`, as text, matches `pattern` (Java regex, anywhere in the value); nulls pass."""

    type: Literal["regex"]
    pattern: str = Field(min_length=1)


class SqlRule(_RowRule):
    """A row rule: the Spark SQL `condition` is true (a null result counts as broken)."""

    type: Literal["sql"]
    condition: str = Field(min_length=1)


RowRule = Annotated[NotNullRule | BetweenRule | InSetRule | RegexRule | SqlRule, Field(discriminator="type")]


class _TableRule(StrictModel):
    name: str
    type: str  # the tag: each kind narrows it to its Literal


class SchemaRule(_TableRule):
    """A table rule: the configured columns (or only `columns`) are present with their types."""

    type: Literal["schema"]
    columns: list[str] = Field(default_factory=list)


class UniqueRule(_TableRule):
    """A table rule: `columns` identify rows (no two rows of the date share them)."""

    type: Literal["unique"]
    columns: list[str] = Field(min_length=1)


class RowCountRule(_TableRule):
    """A table rule: the date's rows are at least `min_rows`, and between `min_ratio` and `max_ratio`
    of the average of the trailing `trailing_days` runs."""

    type: Literal["row_count"]
    min_rows: int = Field(1, ge=0)
    min_ratio: float | None = Field(None, ge=0)
    max_ratio: float | None = Field(None, ge=0)
    trailing_days: int = Field(7, ge=1)


class FreshnessRule(_TableRule):
    """A table rule: the latest `column` is at most `max_age_hours` before the end of the run's date."""

    type: Literal["freshness"]
    column: str = Field(min_length=1)
    max_age_hours: float = Field(gt=0)


TableRule = Annotated[SchemaRule | UniqueRule | RowCountRule | FreshnessRule, Field(discriminator="type")]


class TableValidation(StrictModel):
    row_rules: list[RowRule] = Field(default_factory=list)
    table_rules: list[TableRule] = Field(default_factory=list)


class ValidationConfig(StrictModel):
    """Expectations per table: keys are source names (their bronze tables), `silver` and `features`."""

    on_write: bool = True
    tables: dict[str, TableValidation] = Field(default_factory=dict)
