"""Catalog entries follow the lake: a job's write registers its table by name, and an entry left
pointing at another lake (a shared catalog, a lake moved) is re-pointed at the one written."""
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
