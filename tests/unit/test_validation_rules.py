"""Row rules in one pass and table-rule judgments, on tiny frames."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import SparkSession

from atelier.config.validation import (
    BetweenRule,
    FreshnessRule,
    InSetRule,
    NotNullRule,
    RegexRule,
    RowCountRule,
    SchemaRule,
    SqlRule,
    UniqueRule,
)
from atelier.validation.judge import date_breaches, schema_breaches
from atelier.validation.rules import FAILED, Measures, flag_rows, measure, passed, rejected

D1, D2 = dt.date(2013, 1, 1), dt.date(2013, 1, 2)
ROW_RULES = [
    NotNullRule(name="key", type="not_null", columns=["id"]),
    BetweenRule(name="dist", type="between", column="distance", min=10, max=6000),
    InSetRule(name="origin", type="in_set", column="origin", values=["EWR", "JFK", "LGA"]),
    RegexRule(name="tail", type="regex", column="tailnum", pattern="^N[0-9A-Z]{1,5}$"),
    SqlRule(name="sane", type="sql", condition="delay > -120"),
]


@pytest.fixture
def frame(spark: SparkSession):
    rows = [
        (1, D1, 100.0, "EWR", "N123", 5.0),  # clean
        (None, D1, 100.0, "EWR", "N123", 5.0),  # key
        (3, D1, -5.0, "XXX", "D942DN", 5.0),  # dist, origin, tail
        (4, D2, None, "JFK", None, None),  # nulls pass between/regex; the sql rule sees null -> broken
        (4, D2, 200.0, "LGA", "N9", 0.0),  # clean, but a duplicate id
    ]
    return spark.createDataFrame(rows, "id int, d date, distance double, origin string, tailnum string, delay double")


def test_each_row_carries_every_rule_it_breaks(frame) -> None:
    rows = flag_rows(frame, ROW_RULES).collect()
    failed = {r.id: sorted(r[FAILED]) for r in rows if r.id != 4}
    assert failed == {1: [], None: ["key"], 3: ["dist", "origin", "tail"]}
    assert sorted(sorted(r[FAILED]) for r in rows if r.id == 4) == [[], ["sane"]]


def test_passed_plus_rejected_is_everything(frame) -> None:
    flagged = flag_rows(frame, ROW_RULES)
    assert passed(flagged).count() + rejected(flagged).count() == frame.count()
    assert FAILED not in passed(flagged).columns


def test_one_pass_measures_per_date(frame) -> None:
    table_rules = [
        UniqueRule(name="uniq", type="unique", columns=["id"]),
        FreshnessRule(name="fresh", type="freshness", column="d", max_age_hours=24),
    ]
    m = measure(flag_rows(frame, ROW_RULES), "d", ROW_RULES, table_rules)
    assert m[D1].rows_in == 3 and m[D1].rows_failed == 2
    assert m[D1].failures_by_rule == {"key": 1, "dist": 1, "origin": 1, "tail": 1, "sane": 0}
    assert m[D2].duplicate_keys == {"uniq": 1} and m[D1].duplicate_keys == {"uniq": 0}


def test_table_rules_say_observed_and_expected() -> None:
    rules = [
        RowCountRule(name="volume", type="row_count", min_rows=1, min_ratio=0.5, max_ratio=2.0),
        UniqueRule(name="uniq", type="unique", columns=["id"]),
        FreshnessRule(name="fresh", type="freshness", column="ts", max_age_hours=6),
    ]
    measures = {
        D1: Measures(rows_in=40, duplicate_keys={"uniq": 0}, latest={"fresh": dt.datetime(2013, 1, 1, 22)}),
        D2: Measures(rows_in=300, duplicate_keys={"uniq": 2}, latest={"fresh": dt.datetime(2013, 1, 2, 9)}),
    }
    breaches = date_breaches(
        rules, [D1, D2, dt.date(2013, 1, 3)], measures, {D1: 100.0, D2: 100.0, dt.date(2013, 1, 3): None}
    )
    text = [str(b) for b in breaches]
    assert "rule 'volume' on 2013-01-01: observed 40 rows, expected 50..200 (7-day average 100)" in text
    assert "rule 'volume' on 2013-01-02: observed 300 rows, expected 50..200 (7-day average 100)" in text
    assert "rule 'uniq' on 2013-01-02: observed 2 duplicate row(s) of ['id'], expected each key once" in text
    assert any(t.startswith("rule 'fresh' on 2013-01-02: observed latest ts 2013-01-02 09:00:00") for t in text)
    assert "rule 'volume' on 2013-01-03: observed 0 rows, expected 1..inf (no history yet)" in text  # an empty day
    assert not any("2013-01-01" in t and "fresh" in t for t in text)


def test_schema_rule_names_missing_and_mistyped_columns() -> None:
    rules = [SchemaRule(name="schema", type="schema")]
    breaches = schema_breaches(
        rules, {"id": "int", "distance": "string"}, {"id": "int", "distance": "double", "origin": "string"}
    )
    assert len(breaches) == 1
    assert "missing ['origin']" in breaches[0].observed and "distance: string" in breaches[0].observed
    assert schema_breaches(rules, {"id": "int"}, {"id": "int"}) == []
