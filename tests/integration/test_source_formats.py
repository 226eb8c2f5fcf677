"""Source adapters other than packaged CSV: Parquet files, Delta tables (by path and by name), and
compressed CSV files whatever their names."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from atelier.collect import sources as src
from atelier.config.platform import PlatformConfig
from atelier.config.sources import SourceConfig
from atelier.spark.tables import Lake


def read_typed(spark: SparkSession, source: SourceConfig, cache: Path) -> list[tuple]:
    located = src.resolve_location("planes", source, cache)
    raw = src.read_raw(spark, "planes", source, located)
    typed, bad = src.apply_schema(raw, "planes", source, located.location)
    assert src.check_types(typed, raw, bad, "planes", source, located.location) == {None: src.Counted(2, 0, {})}
    return sorted(tuple(r) for r in src.drop_flags(typed).collect())


def test_parquet_and_delta_sources_are_typed_as_configured(
    spark: SparkSession, platform: PlatformConfig, tmp_path: Path
) -> None:
    df = spark.createDataFrame([("N1", "2001", "x"), ("N2", "1999", "y")], "tailnum string, year string, extra string")
    df.write.parquet(str(tmp_path / "planes.parquet"))
    Lake(spark, platform).replace(df, "bronze.planes_fixture")
    columns = {"tailnum": "string", "year": "int"}
    expected = [("N1", 2001), ("N2", 1999)]
    for fmt, path in [
        ("parquet", str(tmp_path / "planes.parquet")),
        ("delta", str(Lake(spark, platform).path("bronze.planes_fixture"))),
        ("delta", "bronze.planes_fixture"),
    ]:
        source = SourceConfig(kind="reference", format=fmt, path=path, columns=columns)
        assert read_typed(spark, source, tmp_path / "cache") == expected, (fmt, path)


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress])
def test_a_compressed_csv_is_read_whatever_its_name(spark: SparkSession, tmp_path: Path, compress) -> None:
    """Spark picks a codec by the file name's suffix: a gzip or bzip2 file named .csv is read through a link."""
    (tmp_path / "planes.csv").write_bytes(compress(b"tailnum,year\nN1,2001\nN2,1999\n"))
    source = SourceConfig(
        kind="reference", format="csv", path=str(tmp_path / "planes.csv"), columns={"tailnum": "string", "year": "int"}
    )
    assert read_typed(spark, source, tmp_path / "cache") == [("N1", 2001), ("N2", 1999)]
