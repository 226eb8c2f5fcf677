"""Writes of dates (tables.replace_dates): one file per date, and catalog entries that follow the lake.

A job's write registers its table by name, and an entry left pointing at another lake (a shared
catalog, a lake moved or deleted) is re-pointed at the one written."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from atelier.config.schema import PlatformConfig
from atelier.spark import lake as lakes
from atelier.spark import tables

pytestmark = pytest.mark.integration
NAME = "regtest.events"
DAY = dt.date(2013, 1, 1)


def write(spark: SparkSession, platform: PlatformConfig, tag: str) -> None:
    frame = spark.createDataFrame([(DAY, 1, tag)], "d date, id long, tag string")
    tables.replace_dates(spark, platform, frame, NAME, "d", DAY, DAY)


def test_a_write_of_many_dates_leaves_one_file_per_date(spark: SparkSession, platform: PlatformConfig,
                                                       tmp_path: Path) -> None:
    lake = platform.model_copy(update={"lake_root": str(tmp_path / "lake")})
    days = [DAY + dt.timedelta(days=i) for i in range(9)]
    frame = spark.createDataFrame([(d, i, "x") for d in days for i in range(50)], "d date, id long, tag string")
    tables.replace_dates(spark, lake, frame.repartition(4), NAME, "d", days[0], days[-1])
    folder = Path(tables.table_path(lake, NAME))
    per_date = {p.name: len(list(p.glob("*.parquet"))) for p in folder.glob("d=*")}
    assert per_date == {f"d={d}": 1 for d in days}
    assert tables.read_table(spark, lake, NAME).count() == 450


def test_an_entry_pointing_at_another_lake_is_re_pointed_at_the_one_written(
        spark: SparkSession, platform: PlatformConfig, tmp_path: Path) -> None:
    first = platform.model_copy(update={"lake_root": str(tmp_path / "first")})
    second = platform.model_copy(update={"lake_root": str(tmp_path / "second")})
    write(spark, first, "first")
    assert lakes.same_location(tables.registered_location(spark, "regtest", "events"), tables.table_path(first, NAME))
    write(spark, second, "second")
    assert lakes.same_location(tables.registered_location(spark, "regtest", "events"), tables.table_path(second, NAME))
    assert [r.tag for r in spark.table(NAME).collect()] == ["second"]
    assert [r.tag for r in tables.read_table(spark, first, NAME).collect()] == ["first"]  # the other lake's files stay


def test_an_entry_pointing_at_a_lake_since_removed_is_re_pointed(
        spark: SparkSession, platform: PlatformConfig, tmp_path: Path) -> None:
    gone = platform.model_copy(update={"lake_root": str(tmp_path / "gone")})
    here = platform.model_copy(update={"lake_root": str(tmp_path / "here")})
    write(spark, gone, "gone")
    shutil.rmtree(tmp_path / "gone")
    write(spark, here, "here")
    assert [r.tag for r in spark.table(NAME).collect()] == ["here"]
