"""The validation gate on real and bad data: quarantine with reasons, typed failures, nothing lost."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from tests.conftest import CONF
from tests.integration.conftest import flights_alone

from atelier.collect.ingest import collect
from atelier.config.loader import load_use_case
from atelier.config.platform import PlatformConfig
from atelier.errors import SourceError
from atelier.spark.tables import Lake
from atelier.validation.gate import ValidationError
from atelier.validation.operations import quarantine_summary, release, validate_table

pytestmark = pytest.mark.integration
BAD = Path(__file__).resolve().parents[1] / "data" / "bad"
FEB11, FEB12 = dt.date(2013, 2, 11), dt.date(2013, 2, 12)
JAN1 = dt.date(2013, 1, 1)


@pytest.fixture
def lake(platform: PlatformConfig, tmp_path: Path) -> PlatformConfig:
    return platform.model_copy(update={"lake_root": str(tmp_path / "lake"), "reports_dir": str(tmp_path / "reports")})


def runs(spark: SparkSession, lake: PlatformConfig, table: str):
    return Lake(spark, lake).read("ops.validation_runs").filter(F.col("table_name") == table)


def flights_from(name: str, *overrides: str):
    return flights_alone(
        "sources.flights.format=csv",
        f"sources.flights.path={BAD / name}",
        # The tiny files hold a few rows of one day: no volume or freshness rule applies to them.
        "validation.tables.flights.table_rules.2.min_rows=1",
        "validation.tables.flights.table_rules.2.min_ratio=0",
        *overrides,
    )


def test_real_data_quarantines_the_absurd_rows_and_loses_none(spark: SparkSession, lake: PlatformConfig) -> None:
    use_case = load_use_case("flights_delay", CONF)
    collect(Lake(spark, lake), use_case, FEB11, FEB12)
    weather_q = Lake(spark, lake).read("quarantine.bronze_weather").collect()
    assert [(r["_date"], r["failed_rules"]) for r in weather_q] == [(FEB12, ["wind_speed_plausible"])]
    assert json.loads(weather_q[0]["row"])["wind_speed"] == pytest.approx(1048.36058)  # the offending value
    flights_q = Lake(spark, lake).read("quarantine.bronze_flights").collect()
    assert [(r["_date"], r["failed_rules"], json.loads(r["row"])["tailnum"]) for r in flights_q] == [
        (FEB11, ["tailnum_registered"], "D942DN")
    ]

    weather_runs = {r["date"]: r for r in runs(spark, lake, "bronze.weather").collect()}
    assert weather_runs[FEB12]["rows_in"] == 72 and weather_runs[FEB12]["rows_quarantined"] == 1
    assert weather_runs[FEB12]["outcome"] == "quarantined" and weather_runs[FEB11]["outcome"] == "passed"
    assert weather_runs[FEB12]["failures_by_rule"] == {"wind_speed_plausible": 1}
    bronze = Lake(spark, lake).read("bronze.weather").filter(F.col("_batch_date") == FEB12)
    assert bronze.count() == 71 and bronze.filter("wind_speed > 150").count() == 0
    page = Path(weather_runs[FEB12]["report"])
    assert page.is_file() and page.suffix == ".html" and "wind_speed" in page.read_text()
    # Outcomes follow the same rules: the quarantined flight of Feb 11 has no outcome row.
    assert Lake(spark, lake).read("ml.outcomes").filter(F.col("flight_date") == FEB11).count() == (
        Lake(spark, lake).read("bronze.flights").filter(F.col("_batch_date") == FEB11).count()
    )

    # A rerun of the same dates replaces the quarantine: still one row, not two.
    collect(Lake(spark, lake), use_case, FEB11, FEB12)
    assert Lake(spark, lake).read("quarantine.bronze_weather").count() == 1
    summary = {(r["quarantine_table"], r["rule"]): r["rows"] for r in quarantine_summary(Lake(spark, lake)).collect()}
    assert summary == {
        ("quarantine.bronze_flights", "tailnum_registered"): 1,
        ("quarantine.bronze_weather", "wind_speed_plausible"): 1,
    }

    # After the rule is fixed, release moves the row back exactly once.
    fixed = load_use_case("flights_delay", CONF, overrides=["validation.tables.weather.row_rules.3.max=2000"])
    assert release(Lake(spark, lake), fixed, "weather", FEB12, FEB12) == {"released": 1, "still_quarantined": 0}
    assert release(Lake(spark, lake), fixed, "weather", FEB12, FEB12) == {"released": 0, "still_quarantined": 0}
    assert Lake(spark, lake).read("bronze.weather").filter(F.col("_batch_date") == FEB12).count() == 72
    assert Lake(spark, lake).read("quarantine.bronze_weather").count() == 0
    # Released with the rule unchanged: the flight stays where it is.
    assert release(Lake(spark, lake), use_case, "flights", FEB11, FEB11) == {"released": 0, "still_quarantined": 1}


def test_validate_after_the_fact_moves_rows_without_losing_them(spark: SparkSession, lake: PlatformConfig) -> None:
    use_case = load_use_case("flights_delay", CONF)
    collect(Lake(spark, lake), use_case, FEB12, FEB12)
    before = Lake(spark, lake).read("bronze.flights").filter(F.col("_batch_date") == FEB12).count()
    stricter = load_use_case("flights_delay", CONF, overrides=["validation.tables.flights.row_rules.2.max=2000"])
    counts = validate_table(Lake(spark, lake), stricter, "flights", FEB12, FEB12)
    assert counts["rows_in"] == before and counts["quarantined"] > 0
    assert counts["passed"] + counts["quarantined"] == before
    quarantined = Lake(spark, lake).read("quarantine.bronze_flights").filter("job = 'validate'")
    assert quarantined.count() == counts["quarantined"]
    assert (
        validate_table(Lake(spark, lake), stricter, "flights", FEB12, FEB12)["quarantined"] == 0
    )  # a rerun moves nothing
    assert quarantined.count() == counts["quarantined"]


def test_duplicate_flights_fail_the_job_with_the_rule_and_the_report(spark: SparkSession, lake: PlatformConfig) -> None:
    with pytest.raises(
        ValidationError,
        match=r"bronze\.flights 2013-01-01\.\.2013-01-01 failed 1 table rule\(s\): "
        r"rule 'one_row_per_flight' on 2013-01-01: observed 1 duplicate row\(s\).*Report: .*\.html",
    ):
        collect(Lake(spark, lake), flights_from("flights_duplicates.csv"), JAN1, JAN1)
    assert not Lake(spark, lake).exists("bronze.flights") and not Lake(spark, lake).exists("ml.outcomes")
    failed = runs(spark, lake, "bronze.flights").collect()
    assert [r["outcome"] for r in failed] == ["failed"] and "one_row_per_flight" in failed[0]["breaches"][0]


@pytest.mark.parametrize(
    ("case", "rules"),
    [
        ("flights_absurd_values.csv", [["distance_plausible"], ["arr_delay_plausible"]]),
        ("flights_malformed_line.csv", [["key_present", "time_hour_matches_schedule"]]),
        ("flights_future_dates.csv", [["time_hour_matches_schedule"]]),
        ("flights_null_keys.csv", [["key_present"], ["key_present"]]),
    ],
)
def test_bad_rows_are_quarantined_with_their_reasons(
    spark: SparkSession, lake: PlatformConfig, case: str, rules
) -> None:
    collect(Lake(spark, lake), flights_from(case), JAN1, JAN1)
    quarantined = Lake(spark, lake).read("quarantine.bronze_flights")
    assert sorted(r["failed_rules"] for r in quarantined.collect()) == sorted(rules)
    kept = Lake(spark, lake).read("bronze.flights").count()
    assert kept + quarantined.count() == 6  # every row is in exactly one of the two


def test_a_line_that_is_not_utf8_is_quarantined_with_its_bytes(spark: SparkSession, lake: PlatformConfig) -> None:
    """Spark would have read it with U+FFFD in place of the bytes; it is quarantined before Spark reads the file."""
    collect(Lake(spark, lake), flights_from("flights_non_utf8.csv", "sources.flights.max_bad_share=0.5"), JAN1, JAN1)
    [row] = Lake(spark, lake).read("quarantine.bronze_flights").collect()
    assert row["_date"] == JAN1 and row["failed_rules"] == [
        "unparsed: line 4: 'utf-8' codec can't decode byte 0xe9 in position 45: invalid continuation byte"
    ]
    line = json.loads(row["row"])
    assert line["line"] == 4 and line["file"].endswith("flights_non_utf8.csv")
    assert bytes.fromhex(line["hex"]) == (BAD / "flights_non_utf8.csv").read_bytes().splitlines()[3]
    assert Lake(spark, lake).read("bronze.flights").count() == 5
    [run] = runs(spark, lake, "bronze.flights").collect()
    assert (run["rows_in"], run["rows_passed"], run["rows_quarantined"], run["failures_by_rule"]) == (
        6,
        5,
        1,
        {"unparsed": 1},
    )


def test_truncated_parquet_is_a_clear_error(spark: SparkSession, lake: PlatformConfig, tmp_path: Path) -> None:
    good = tmp_path / "flights.parquet"
    spark.read.option("header", True).csv(str(BAD / "flights_absurd_values.csv")).coalesce(1).write.parquet(str(good))
    part = next(good.glob("*.parquet"))
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / part.name).write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    use_case = load_use_case(
        "flights_delay",
        CONF,
        overrides=["sources.flights.format=parquet", f"sources.flights.path={cut}", "sources.flights.package="],
    )
    with pytest.raises(SourceError, match=r"source 'flights': cannot read .*cut"):
        collect(Lake(spark, lake), use_case, JAN1, JAN1)
    assert not Lake(spark, lake).exists("bronze.flights")
    shutil.rmtree(cut)
