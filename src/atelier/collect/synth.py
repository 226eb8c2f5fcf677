"""A seeded synthetic copy of a use case's primary source, at any size, for benchmarks.

Rows are drawn with replacement from the real source (a bootstrap), so every column keeps the
real data's joint distribution, dates included; one integer column of the natural key is
replaced by a unique number so that synthetic rows never collide on the entity key.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from atelier.collect import sources as src
from atelier.config.use_case import UseCaseConfig
from atelier.errors import ConfigError
from atelier.safe_paths import Output, check_replaceable, platform_folders
from atelier.spark.tables import Lake

log = logging.getLogger(__name__)

WRITES = Output("atelier synth", "_SUCCESS", ("_SUCCESS", "part-*", "._SUCCESS.crc", ".part-*.crc"))  # Spark's Parquet


def unique_column(use_case: UseCaseConfig) -> str:
    """The natural-key column made unique: the first integer one that the date expression doesn't use."""
    primary = use_case.primary
    date_names = set(re.findall(r"[A-Za-z_]\w*", primary.date_expr or ""))
    for column in use_case.entity.natural_key:
        if primary.columns[column] in ("int", "bigint") and column not in date_names:
            return column
    raise ConfigError(f"use case '{use_case.name}': no integer natural-key column outside date_expr to make unique")


def sample(real: DataFrame, rows: int, seed: int, unique: str, order: list[str]) -> DataFrame:
    """`rows` rows drawn uniformly with replacement from `real`; `unique` numbered 0..rows-1."""
    indexed = real.withColumn("__idx", F.row_number().over(Window.orderBy(*order)) - 1)
    n = indexed.count()
    picks = real.sparkSession.range(rows).select(
        F.col("id").alias("__synth_id"), F.floor(F.rand(seed) * n).cast("long").alias("__idx")
    )
    drawn = picks.join(indexed, "__idx")
    return drawn.withColumn(unique, F.col("__synth_id").cast(real.schema[unique].dataType)).drop("__idx", "__synth_id")


def synthesize(lake: Lake, use_case: UseCaseConfig, rows: int, seed: int, out: Path) -> Path:
    """Write `rows` synthetic rows of the primary source to `out` as Parquet, with the source's schema
    (an earlier synth output there is replaced; any other folder is refused, see safe_paths)."""
    out = check_replaceable(out, WRITES, "--out", platform_folders(lake.platform))
    name, source = use_case.clean.primary, use_case.primary
    located = src.resolve_location(name, source, Path(lake.platform.cache_dir))
    raw = src.read_raw(lake.spark, name, source, located)
    typed, _ = src.apply_schema(raw, name, source, located.location)
    real = src.drop_flags(typed)
    synthetic = sample(real, rows, seed, unique_column(use_case), use_case.entity.natural_key)
    synthetic.select(*source.columns).write.mode("overwrite").parquet(str(out))
    log.info("wrote %d synthetic rows of '%s' (seed %d) to %s", rows, name, seed, out)
    return out
