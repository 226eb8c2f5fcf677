"""Bad input gets a clear error naming the source, file and column, and nothing is written; or, for
rows that do not parse, a quarantine that says why, with the rest collected."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from tests.conftest import CONF
from tests.integration.conftest import flights_alone

from atelier.collect.ingest import collect
from atelier.config.loader import load_use_case
from atelier.config.platform import PlatformConfig
from atelier.errors import SourceError, TableError
from atelier.features.build import run_features
from atelier.spark.tables import Lake
from atelier.validation.operations import release

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"
DAY = dt.date(2013, 1, 1)


@pytest.fixture
def empty_lake(platform: PlatformConfig, tmp_path: Path) -> PlatformConfig:
    return platform.model_copy(update={"lake_root": str(tmp_path / "lake"), "reports_dir": str(tmp_path / "reports")})


def flights_from(path: Path, fmt: str = "csv", *overrides: str):
    return flights_alone(f"sources.flights.format={fmt}", f"sources.flights.path={path}", *overrides)


def quarantined(spark: SparkSession, lake: PlatformConfig) -> list[tuple]:
    rows = Lake(spark, lake).read("quarantine.bronze_flights").collect()
    return [(r["_date"], r["failed_rules"], json.loads(r["row"])) for r in rows]


def bronze(spark: SparkSession, lake: PlatformConfig):
    return Lake(spark, lake).read("bronze.flights")


def assert_nothing_written(lake: PlatformConfig) -> None:
    assert not list(Path(lake.lake_root).glob("*/*/_delta_log")), "a table was written despite the error"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (
            "flights_missing_column.csv",
            r"source 'flights' \(.*flights_missing_column\.csv\): configured column\(s\) \['carrier'\] not found",
        ),
        ("flights_corrupt.csv.zip", r"source 'flights': cannot read zip file .*flights_corrupt\.csv\.zip"),
        ("does_not_exist.csv", r"source 'flights': file .*does_not_exist\.csv does not exist"),
        ("flights_empty.csv", r"source 'flights': file .*flights_empty\.csv is empty \(0 bytes\)"),
    ],
)
def test_bad_source_files(spark: SparkSession, empty_lake: PlatformConfig, case: str, expected: str) -> None:
    with pytest.raises(SourceError, match=expected):
        collect(Lake(spark, empty_lake), flights_from(BAD / case), DAY, DAY)
    assert_nothing_written(empty_lake)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (
            "flights_wrong_type.csv",
            r"source 'flights' \(.*flights_wrong_type\.csv\): column 'distance' has 1 value\(s\) "
            r"that are not double such as 'far'",
        ),
        (
            "flights_latin1.csv",
            r"source 'flights': file .*flights_latin1\.csv, line 4, does not decode as utf-8 "
            r"\('utf-8' codec can't decode byte 0xc9 .*\); 1 such line\(s\)",
        ),
    ],
)
def test_refuse_names_the_value_or_the_line(
    spark: SparkSession, empty_lake: PlatformConfig, case: str, expected: str
) -> None:
    with pytest.raises(SourceError, match=expected):
        collect(
            Lake(spark, empty_lake), flights_from(BAD / case, "csv", "sources.flights.on_parse_error=refuse"), DAY, DAY
        )
    assert_nothing_written(empty_lake)


def test_a_value_that_does_not_parse_is_quarantined_with_its_reason(
    spark: SparkSession, empty_lake: PlatformConfig
) -> None:
    use_case = flights_from(BAD / "flights_wrong_type.csv", "csv", "sources.flights.max_bad_share=0.5")
    report = collect(Lake(spark, empty_lake), use_case, DAY, DAY)
    [(day, reasons, row)] = quarantined(spark, empty_lake)
    assert (day, reasons) == (DAY, ["unparsed: column 'distance': value 'far' is not double"])
    assert row["distance"] == "far" and row["tailnum"] == "N619AA"  # the values as read
    assert bronze(spark, empty_lake).count() == 4
    assert report.sources["flights"] == {"read": 5, "written": 4, "quarantined": 1, "other_dates": 0}
    [run] = Lake(spark, empty_lake).read("ops.validation_runs").filter("table_name = 'bronze.flights'").collect()
    assert (run["rows_in"], run["rows_quarantined"], run["failures_by_rule"]) == (5, 1, {"unparsed": 1})
    # No rule change releases it: the source must be fixed and collected again.
    assert release(Lake(spark, empty_lake), use_case, "flights", DAY, DAY) == {"released": 0, "still_quarantined": 1}


def test_above_max_bad_share_nothing_is_written(spark: SparkSession, empty_lake: PlatformConfig) -> None:
    with pytest.raises(
        SourceError,
        match=r"source 'flights' \(.*flights_mostly_bad\.csv\): 2 of the 3 row\(s\) of "
        r"2013-01-01\.\.2013-01-01 do not parse \(66\.7%, above max_bad_share 0\.5\): values that are "
        r"not of their column's type \{'dep_time': 1, 'distance': 1\}, lines that do not decode as utf-8: 0",
    ):
        collect(
            Lake(spark, empty_lake),
            flights_from(BAD / "flights_mostly_bad.csv", "csv", "sources.flights.max_bad_share=0.5"),
            DAY,
            DAY,
        )
    assert_nothing_written(empty_lake)


def test_latin1_is_read_in_its_encoding_and_quarantined_as_bytes_in_another(
    spark: SparkSession, empty_lake: PlatformConfig
) -> None:
    collect(
        Lake(spark, empty_lake),
        flights_from(BAD / "flights_latin1.csv", "csv", "sources.flights.max_bad_share=0.5"),
        DAY,
        DAY,
    )
    [(day, reasons, row)] = quarantined(spark, empty_lake)
    assert day == DAY and reasons[0].startswith("unparsed: line 4: 'utf-8' codec can't decode byte 0xc9")
    assert bytes.fromhex(row["hex"]).decode("latin-1").split(",")[13] == "MÉX" and row["line"] == 4
    assert bronze(spark, empty_lake).count() == 2
    # Collected again in its encoding: the line is read, and the date's quarantine is replaced (emptied).
    collect(
        Lake(spark, empty_lake),
        flights_from(BAD / "flights_latin1.csv", "csv", "sources.flights.encoding=latin-1"),
        DAY,
        DAY,
    )
    assert [r["dest"] for r in bronze(spark, empty_lake).filter(F.col("flight") == 1141).collect()] == ["MÉX"]
    assert quarantined(spark, empty_lake) == []


def test_unreadable_parquet_names_the_source(spark: SparkSession, empty_lake: PlatformConfig) -> None:
    with pytest.raises(
        SourceError, match=r"source .flights.: cannot read .*flights_wrong_type\.csv.*is not a Parquet file"
    ):
        collect(Lake(spark, empty_lake), flights_from(BAD / "flights_wrong_type.csv", "parquet"), DAY, DAY)
    assert_nothing_written(empty_lake)


def test_date_outside_the_data(spark: SparkSession, empty_lake: PlatformConfig) -> None:
    use_case = load_use_case("flights_delay", CONF)
    with pytest.raises(
        SourceError,
        match=r"source 'flights' .* no rows for 1 of the requested date\(s\), first "
        r"2014-01-05; its data covers 2013-01-01\.\.2013-12-31",
    ):
        collect(Lake(spark, empty_lake), use_case, dt.date(2014, 1, 5), dt.date(2014, 1, 5))
    assert_nothing_written(empty_lake)


def test_an_empty_day_inside_a_range(spark: SparkSession, empty_lake: PlatformConfig) -> None:
    """The file holds flights of Jan 1 only: asking for Jan 1..2 names the empty day and writes nothing."""
    with pytest.raises(
        SourceError,
        match=r"no rows for 1 of the requested date\(s\), first 2013-01-02; "
        r"its data covers 2013-01-01\.\.2013-01-01",
    ):
        collect(
            Lake(spark, empty_lake), flights_from(BAD / "flights_absurd_values.csv"), DAY, DAY + dt.timedelta(days=1)
        )
    assert_nothing_written(empty_lake)


def test_features_before_collect_says_what_to_run(spark: SparkSession, empty_lake: PlatformConfig) -> None:
    with pytest.raises(TableError, match=r"bronze\.flights does not exist: run `atelier collect` first"):
        run_features(Lake(spark, empty_lake), load_use_case("flights_delay", CONF), DAY, DAY)
