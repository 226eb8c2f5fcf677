"""Point-in-time and lookup joins on tiny frames: never a later observation, never extra rows."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import SparkSession

from atelier.features.joins import asof_join, lookup_join

T0 = dt.datetime(2013, 1, 1, 12, 0)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def run_asof(spark: SparkSession, left_rows, right_rows, tolerance_hours=3.0):
    left = spark.createDataFrame(left_rows, "id string, origin string, t timestamp")
    right = spark.createDataFrame(right_rows, "origin string, obs timestamp, temp double")
    out = asof_join(
        left,
        right,
        left_id="id",
        on={"origin": "origin"},
        left_time="t",
        right_time="obs",
        tolerance_hours=tolerance_hours,
        columns={"temp": "wx_temp"},
        time_alias="wx_at",
    )
    return {r.id: (r.wx_temp, r.wx_at) for r in out.collect()}


def test_asof_takes_the_latest_observation_at_or_before(spark: SparkSession) -> None:
    right = [("EWR", at(-120), 1.0), ("EWR", at(-30), 2.0), ("EWR", at(10), 99.0), ("JFK", at(-5), 3.0)]
    out = run_asof(spark, [("a", "EWR", at(0)), ("b", "JFK", at(0)), ("c", "EWR", at(10))], right)
    assert out["a"] == (2.0, at(-30))  # the later row at +10 min is in the future for a
    assert out["b"] == (3.0, at(-5))  # keys must match: EWR rows are not JFK's weather
    assert out["c"] == (99.0, at(10))  # an observation at exactly the left time counts


def test_asof_respects_the_tolerance_and_keeps_unmatched_rows(spark: SparkSession) -> None:
    right = [("EWR", at(-180), 1.0), ("EWR", at(-181), 0.0)]
    out = run_asof(spark, [("edge", "EWR", at(0)), ("far", "EWR", at(200)), ("none", "LGA", at(0))], right)
    assert out["edge"] == (1.0, at(-180))  # exactly the tolerance is still in
    assert out["far"] == (None, None)  # 200 min after the last observation: beyond 3 hours
    assert out["none"] == (None, None)
    assert len(out) == 3


def test_asof_crosses_bucket_boundaries(spark: SparkSession) -> None:
    # With 1-hour buckets, an observation in the previous bucket must still be found.
    right = [("EWR", dt.datetime(2013, 1, 1, 11, 59), 5.0)]
    out = run_asof(spark, [("a", "EWR", dt.datetime(2013, 1, 1, 12, 1))], right, tolerance_hours=1.0)
    assert out["a"][0] == 5.0


def test_lookup_join_never_multiplies_rows(spark: SparkSession) -> None:
    left = spark.createDataFrame([("f1", "N1"), ("f2", "N2"), ("f3", None)], "id string, tailnum string")
    planes = spark.createDataFrame([("N1", 2001), ("N1", 2001), ("N2", 1999)], "tailnum string, year int")
    out = {
        r.id: r.plane_year for r in lookup_join(left, planes, {"tailnum": "tailnum"}, {"year": "plane_year"}).collect()
    }
    assert out == {"f1": 2001, "f2": 1999, "f3": None}
