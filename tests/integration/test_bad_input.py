"""Bad input gets a clear error naming the source, file and column, and nothing is written."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from atelier.collect.ingest import collect
from atelier.config.loader import load_use_case
from atelier.config.schema import PlatformConfig
from atelier.errors import SourceError, TableError
from atelier.features.build import run_features
from tests.conftest import CONF

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"
DAY = dt.date(2013, 1, 1)


@pytest.fixture
def empty_lake(platform: PlatformConfig, tmp_path: Path) -> PlatformConfig:
    return platform.model_copy(update={"lake_root": str(tmp_path / "lake")})


def flights_from(path: Path, fmt: str = "csv"):
    return load_use_case("flights_delay", CONF, overrides=[
        f"sources.flights.format={fmt}", f"sources.flights.path={path}", "sources.flights.package=",
    ])


def assert_nothing_written(lake: PlatformConfig) -> None:
    assert not list(Path(lake.lake_root).glob("*/*/_delta_log")), "a table was written despite the error"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("flights_missing_column.csv", r"source 'flights' \(.*flights_missing_column\.csv\): configured column\(s\) \['carrier'\] not found"),
        ("flights_wrong_type.csv", r"source 'flights' \(.*flights_wrong_type\.csv\): column 'distance' has 1 value\(s\) that are not double such as 'far'"),
        ("flights_corrupt.csv.zip", r"source 'flights': cannot read archive .*flights_corrupt\.csv\.zip"),
        ("does_not_exist.csv", r"source 'flights': file .*does_not_exist\.csv does not exist"),
    ],
)
def test_bad_source_files(spark: SparkSession, empty_lake: PlatformConfig, case: str, expected: str) -> None:
    with pytest.raises(SourceError, match=expected):
        collect(spark, empty_lake, flights_from(BAD / case), DAY, DAY)
    assert_nothing_written(empty_lake)


def test_unreadable_parquet_names_the_source(spark: SparkSession, empty_lake: PlatformConfig) -> None:
    with pytest.raises(SourceError, match=r"source .flights.: cannot read .*flights_wrong_type\.csv.*is not a Parquet file"):
        collect(spark, empty_lake, flights_from(BAD / "flights_wrong_type.csv", "parquet"), DAY, DAY)
    assert_nothing_written(empty_lake)


def test_date_outside_the_data(spark: SparkSession, empty_lake: PlatformConfig) -> None:
    use_case = load_use_case("flights_delay", CONF)
    with pytest.raises(SourceError, match=r"source 'flights' .* no rows for 1 of the requested date\(s\), first "
                                          r"2014-01-05; its data covers 2013-01-01\.\.2013-12-31"):
        collect(spark, empty_lake, use_case, dt.date(2014, 1, 5), dt.date(2014, 1, 5))
    assert_nothing_written(empty_lake)


def test_an_empty_day_inside_a_range(spark: SparkSession, empty_lake: PlatformConfig) -> None:
    """The file holds flights of Jan 1 only: asking for Jan 1..2 names the empty day and writes nothing."""
    with pytest.raises(SourceError, match=r"no rows for 1 of the requested date\(s\), first 2013-01-02; "
                                          r"its data covers 2013-01-01\.\.2013-01-01"):
        collect(spark, empty_lake, flights_from(BAD / "flights_absurd_values.csv"), DAY, DAY + dt.timedelta(days=1))
    assert_nothing_written(empty_lake)


def test_features_before_collect_says_what_to_run(spark: SparkSession, empty_lake: PlatformConfig) -> None:
    with pytest.raises(TableError, match=r"bronze\.flights does not exist: run `atelier collect` first"):
        run_features(spark, empty_lake, load_use_case("flights_delay", CONF), DAY, DAY)
