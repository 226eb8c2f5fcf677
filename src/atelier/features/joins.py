"""Joins of the primary events with other sources: key lookups and point-in-time (as-of) joins."""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from atelier.features.keys import dedupe_latest


def lookup_join(left: DataFrame, right: DataFrame, on: Mapping[str, str], columns: Mapping[str, str]) -> DataFrame:
    """Left-join reference attributes by key; the right side is made unique per key first,
    so a lookup never multiplies the left rows."""
    right_keys = list(on.values())
    slim = right.select(
        *[F.col(r).alias(f"__k_{i}") for i, r in enumerate(right_keys)],
        *[F.col(src).alias(dst) for src, dst in columns.items()],
    )
    slim = dedupe_latest(slim, [f"__k_{i}" for i in range(len(right_keys))])
    condition = [left[lcol] == slim[f"__k_{i}"] for i, lcol in enumerate(on)]
    joined = left.join(slim, condition, "left")
    return joined.drop(*[f"__k_{i}" for i in range(len(right_keys))])


def asof_join(
    left: DataFrame,
    right: DataFrame,
    *,
    left_id: str,
    on: Mapping[str, str],
    left_time: str,
    right_time: str,
    tolerance_hours: float,
    columns: Mapping[str, str],
    time_alias: str | None = None,
) -> DataFrame:
    """For each left row, the latest right row with equal keys observed at or before `left_time`,
    and no earlier than `tolerance_hours` before it; none (nulls) if there is no such row.

    Never uses an observation later than the left time. Scales as an equi-join: time is cut into
    buckets one tolerance wide, and each right row is offered to its own bucket and the next one.
    """
    width = float(tolerance_hours) * 3600.0
    right_keys = list(on.values())
    time_out = time_alias or "__asof_time"
    candidates = right.select(
        *[F.col(r).alias(f"__k_{i}") for i, r in enumerate(right_keys)],
        F.col(right_time).alias(time_out),
        *[F.col(src).alias(dst) for src, dst in columns.items()],
    ).withColumn(
        "__bucket",
        F.explode(
            F.array(F.floor(F.unix_timestamp(time_out) / width), F.floor(F.unix_timestamp(time_out) / width) + 1)
        ),
    )
    lt = F.col(left_time)
    probe = left.withColumn("__bucket", F.floor(F.unix_timestamp(lt) / width))
    condition = [probe[lcol] == candidates[f"__k_{i}"] for i, lcol in enumerate(on)] + [
        probe["__bucket"] == candidates["__bucket"],
        candidates[time_out] <= probe[left_time],
        candidates[time_out] >= probe[left_time] - F.expr(f"INTERVAL {int(width)} SECONDS"),
    ]
    matched = probe.join(candidates, condition, "left").drop(candidates["__bucket"])
    tie_break = F.xxhash64(*[F.col(dst) for dst in columns.values()])
    window = Window.partitionBy(left_id).orderBy(F.col(time_out).desc_nulls_last(), tie_break.desc())
    best = matched.withColumn("__rank", F.row_number().over(window)).filter("__rank = 1")
    dropped = ["__rank", "__bucket"] + [f"__k_{i}" for i in range(len(right_keys))]
    if time_alias is None:
        dropped.append(time_out)
    return best.drop(*dropped)
