"""profile.bucket_counts: every feature's bins counted in one Spark pass, equal to numpy's binning."""

from __future__ import annotations

import math

import numpy as np
from pyspark.sql import SparkSession

from atelier.tracking.profile import NULL, bucket_counts


def test_numeric_bins_match_numpy_and_categories_are_counted_per_group(spark: SparkSession) -> None:
    rng = np.random.default_rng(3)
    edges = [-math.inf, -2.5, 0.0, 1e-5, 0.5, 3e10]
    values = np.concatenate([rng.normal(0, 2, 300), [-2.5, 0.0, 1e-5, 0.5, 3e10, 4e10, -1e300]])  # on and past edges
    rows = [(int(i % 2), float(v) if i % 17 else None, ["a", "b", None][i % 3]) for i, v in enumerate(values)]
    frame = spark.createDataFrame(rows, "grp int, `wx temp` double, carrier string")

    counts = bucket_counts(frame, {"wx temp": edges}, ["carrier"], ["grp"])

    for grp in (0, 1):
        mine = [r for r in rows if r[0] == grp]
        numbers = np.array([r[1] for r in mine if r[1] is not None])
        bins = np.bincount(np.searchsorted(edges, numbers, side="left"), minlength=len(edges) + 1)
        expected = {str(i): int(n) for i, n in enumerate(bins) if n}
        expected[NULL] = sum(r[1] is None for r in mine)
        assert counts[(grp,)]["wx temp"] == expected
        assert counts[(grp,)]["carrier"] == {k: sum((r[2] or NULL) == k for r in mine) for k in ("a", "b", NULL)}
