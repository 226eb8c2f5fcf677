"""Deterministic entity keys and deduplication."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

KEY_HEX_CHARS = 24  # 96 bits of SHA-256: collision-free at any realistic table size


def with_entity_key(df: DataFrame, key: str, natural_key: list[str]) -> DataFrame:
    """Add `key`: a stable hash of the natural-key columns (nulls encoded, so they cannot collide)."""
    parts = [F.coalesce(F.col(f"`{c}`").cast("string"), F.lit("\u0000")) for c in natural_key]
    return df.withColumn(key, F.substring(F.sha2(F.concat_ws("\u001f", *parts), 256), 1, KEY_HEX_CHARS))


def dedupe_latest(df: DataFrame, keys: list[str], order_by: str | None = None) -> DataFrame:
    """Keep one row per key: the latest by `order_by`, ties broken by a hash of the whole row.

    The tie-break makes the result the same on every run, whatever order the rows arrive in.
    """
    row_hash = F.xxhash64(*[F.col(f"`{c}`") for c in df.columns])
    order = ([F.col(f"`{order_by}`").desc_nulls_last()] if order_by else []) + [row_hash.desc()]
    window = Window.partitionBy(*[F.col(f"`{k}`") for k in keys]).orderBy(*order)
    return df.withColumn("__rank", F.row_number().over(window)).filter("__rank = 1").drop("__rank")
