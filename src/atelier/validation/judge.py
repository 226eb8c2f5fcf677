"""Table rules judged on the measures of one pass: each breach says what was observed and expected."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from atelier.config.validation import FreshnessRule, RowCountRule, TableRule
from atelier.validation.rules import Measures


@dataclass(frozen=True)
class Breach:
    rule: str
    date: dt.date | None
    observed: str
    expected: str

    def __str__(self) -> str:
        on = f" on {self.date}" if self.date else ""
        return f"rule '{self.rule}'{on}: observed {self.observed}, expected {self.expected}"


def schema_breaches(rules: list[TableRule], actual: dict[str, str], expected: dict[str, str]) -> list[Breach]:
    """Missing columns, or columns of another type than configured (`schema` rules)."""
    breaches = []
    for rule in (r for r in rules if r.type == "schema"):
        wanted = {c: expected.get(c) for c in rule.columns} if rule.columns else expected
        missing = sorted(c for c in wanted if c not in actual)
        wrong = sorted(f"{c}: {actual[c]}" for c, t in wanted.items() if t and c in actual and actual[c] != t)
        if missing or wrong:
            observed = "; ".join(
                filter(None, [f"missing {missing}" if missing else "", f"types {wrong}" if wrong else ""])
            )
            breaches.append(Breach(rule.name, None, observed, f"columns {wanted}"))
    return breaches


def date_breaches(
    rules: list[TableRule],
    dates: list[dt.date],
    measures: dict[dt.date, Measures],
    trailing_average: dict[dt.date, float | None],
) -> list[Breach]:
    """Volume, uniqueness and freshness, per date (a date with no rows has rows_in = 0)."""
    breaches = []
    for day in dates:
        m = measures.get(day, Measures())
        for rule in rules:
            if rule.type == "row_count":
                breaches += _volume(rule, day, m.rows_in, trailing_average.get(day))
            elif rule.type == "unique" and m.duplicate_keys.get(rule.name):
                breaches.append(
                    Breach(
                        rule.name,
                        day,
                        f"{m.duplicate_keys[rule.name]} duplicate row(s) of {rule.columns}",
                        "each key once",
                    )
                )
            elif rule.type == "freshness":
                breaches += _freshness(rule, day, m.latest.get(rule.name))
    return breaches


def _volume(rule: RowCountRule, day: dt.date, rows: int, average: float | None) -> list[Breach]:
    low, high = float(rule.min_rows), float("inf")
    if average:
        if rule.min_ratio is not None:
            low = max(low, rule.min_ratio * average)
        if rule.max_ratio is not None:
            high = rule.max_ratio * average
    if low <= rows <= high:
        return []
    basis = f" ({rule.trailing_days}-day average {average:.0f})" if average else " (no history yet)"
    return [Breach(rule.name, day, f"{rows} rows", f"{low:.0f}..{high:.0f}{basis}")]


def _freshness(rule: FreshnessRule, day: dt.date, latest: object) -> list[Breach]:
    end_of_day = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
    oldest_ok = end_of_day - dt.timedelta(hours=rule.max_age_hours)
    if isinstance(latest, dt.datetime) and latest >= oldest_ok:
        return []
    return [
        Breach(
            rule.name,
            day,
            f"latest {rule.column} {latest}",
            f">= {oldest_ok} ({rule.max_age_hours} h before the day's end)",
        )
    ]
