"""Building silver: the cleaning rules and the joins of the primary source with the others.

A rule is one model per `action` and a join one per `type` (discriminated unions): a key that
applies to another kind is an unknown key of this one.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from atelier.config.common import StrictModel


class _CleanRule(StrictModel):
    name: str
    condition: str
    action: str  # the tag: each kind narrows it to its Literal


class DropRule(_CleanRule):
    """A cleaning rule: rows where `condition` is not true are dropped."""

    action: Literal["drop"]


class SetNullRule(_CleanRule):
    """A cleaning rule: where `condition` is not true, the named `columns` are nulled."""

    action: Literal["set_null"]
    columns: list[str] = Field(min_length=1)


RuleConfig = Annotated[DropRule | SetNullRule, Field(discriminator="action")]


class _Join(StrictModel):
    source: str
    type: str  # the tag: each kind narrows it to its Literal
    keys: dict[str, str] = Field(min_length=1)
    select: list[str] | dict[str, str]
    prefix: str = ""

    def output_columns(self) -> dict[str, str]:
        """Right-side column -> name in the joined frame."""
        if isinstance(self.select, dict):
            return dict(self.select)
        return {c: f"{self.prefix}{c}" for c in self.select}


class LookupJoin(_Join):
    """A join of the primary source with another on `keys` (primary column -> other's column)."""

    type: Literal["lookup"]


class AsofJoin(_Join):
    """A point-in-time join: each primary row takes the latest row of the other with equal `keys`
    whose `right_time` is at or before its `left_time`, and at most `tolerance_hours` before it."""

    type: Literal["asof"]
    left_time: str = Field(min_length=1)
    right_time: str = Field(min_length=1)
    tolerance_hours: float = Field(gt=0)
    time_alias: str | None = None


JoinConfig = Annotated[LookupJoin | AsofJoin, Field(discriminator="type")]


class CleanConfig(StrictModel):
    primary: str
    derive: dict[str, str] = Field(default_factory=dict)
    rules: list[RuleConfig] = Field(default_factory=list)
    joins: list[JoinConfig] = Field(default_factory=list)
    enrich: dict[str, str] = Field(default_factory=dict)
