"""Writes of dates (Lake.replace_dates): one file per date, and catalog entries that follow the lake.

A job's write registers its table by name, and an entry left pointing at another lake (a shared
catalog, a lake moved or deleted) is re-pointed at the one written."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from atelier.config.platform import PlatformConfig
from atelier.spark import lake as lakes
from atelier.spark import tables
from atelier.spark.tables import Lake

pytestmark = pytest.mark.integration
NAME = "regtest.events"
DAY = dt.date(2013, 1, 1)


def write(spark: SparkSession, platform: PlatformConfig, tag: str) -> None:
    frame = spark.createDataFrame([(DAY, 1, tag)], "d date, id long, tag string")
    Lake(spark, platform).replace_dates(frame, NAME, "d", DAY, DAY)


def test_a_write_of_many_dates_leaves_one_file_per_date(
    spark: SparkSession, platform: PlatformConfig, tmp_path: Path
) -> None:
    lake = platform.model_copy(update={"lake_root": str(tmp_path / "lake")})
    days = [DAY + dt.timedelta(days=i) for i in range(9)]
    frame = spark.createDataFrame([(d, i, "x") for d in days for i in range(50)], "d date, id long, tag string")
    Lake(spark, lake).replace_dates(frame.repartition(4), NAME, "d", days[0], days[-1])
    folder = Path(Lake(spark, lake).path(NAME))
    per_date = {p.name: len(list(p.glob("*.parquet"))) for p in folder.glob("d=*")}
    assert per_date == {f"d={d}": 1 for d in days}
    assert Lake(spark, lake).read(NAME).count() == 450


def test_an_entry_pointing_at_another_lake_is_re_pointed_at_the_one_written(
    spark: SparkSession, platform: PlatformConfig, tmp_path: Path
) -> None:
    first = platform.model_copy(update={"lake_root": str(tmp_path / "first")})
    second = platform.model_copy(update={"lake_root": str(tmp_path / "second")})
    write(spark, first, "first")
    assert lakes.same_location(tables.registered_location(spark, "regtest", "events"), Lake(spark, first).path(NAME))
    write(spark, second, "second")
    assert lakes.same_location(tables.registered_location(spark, "regtest", "events"), Lake(spark, second).path(NAME))
    assert [r.tag for r in spark.table(NAME).collect()] == ["second"]
    assert [r.tag for r in Lake(spark, first).read(NAME).collect()] == ["first"]  # the other lake's files stay


def test_an_entry_pointing_at_a_lake_since_removed_is_re_pointed(
    spark: SparkSession, platform: PlatformConfig, tmp_path: Path
) -> None:
    gone = platform.model_copy(update={"lake_root": str(tmp_path / "gone")})
    here = platform.model_copy(update={"lake_root": str(tmp_path / "here")})
    write(spark, gone, "gone")
    shutil.rmtree(tmp_path / "gone")
    write(spark, here, "here")
    assert [r.tag for r in spark.table(NAME).collect()] == ["here"]


def test_a_write_that_changes_nothing_is_a_success_that_commits_nothing(
    spark: SparkSession, platform: PlatformConfig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A date with no rows to add and none to remove (the first day of a range has no matured outcomes,
    a day whose rows were all quarantined): Delta makes no commit, and the job goes on."""
    lake = platform.model_copy(update={"lake_root": str(tmp_path / "lake")})
    schema = "d date, id long, tag string"
    empty = spark.createDataFrame([], schema)
    created = Lake(spark, lake).replace_dates(empty, NAME, "d", DAY, DAY)  # a new table: its first commit
    assert (created.version, created.rows, created.committed) == (0, 0, True)
    caplog.set_level(logging.INFO, logger="atelier.spark.tables")
    for _ in range(2):  # a rerun too
        nothing = Lake(spark, lake).replace_dates(empty, NAME, "d", DAY, DAY)
        assert (nothing.version, nothing.rows, nothing.committed) == (0, 0, False)
    assert f"nothing to write for {NAME} dates {DAY}..{DAY}" in caplog.text
    written = Lake(spark, lake).replace_dates(
        spark.createDataFrame([(DAY, 1, "x"), (DAY, 2, "y")], schema), NAME, "d", DAY, DAY
    )
    assert (written.version, written.rows, written.committed) == (1, 2, True)
    other_day = DAY + dt.timedelta(days=1)  # nothing there, nothing to add: the rows of DAY stay
    assert not Lake(spark, lake).replace_dates(empty, NAME, "d", other_day, other_day).committed
    assert not Lake(spark, lake).append(empty, NAME).committed
    assert Lake(spark, lake).version(NAME) == 1
    assert sorted(r.id for r in Lake(spark, lake).read(NAME).collect()) == [1, 2]
