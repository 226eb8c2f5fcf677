"""Spark's Python workers run atelier's daemon (spark/pyworker.py), so a task does not re-read
pyspark.zip's directory before its first row."""

from __future__ import annotations

import sys

import pyarrow as pa
import pytest
from pyspark.sql import SparkSession

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(sys.version_info >= (3, 12), reason="Python 3.12's zip importers invalidate lazily"),
]


def test_every_python_task_keeps_unchanged_zip_directories(spark: SparkSession) -> None:
    def probe(batches):  # defined here: pickled by value, as the test module is not importable in workers
        import zipimport

        for _ in batches:
            invalidation = zipimport.zipimporter.invalidate_caches
            yield pa.RecordBatch.from_pylist([{"invalidation": f"{invalidation.__module__}.{invalidation.__name__}"}])

    found = {r.invalidation for r in spark.range(8, numPartitions=4).mapInArrow(probe, "invalidation string").collect()}
    assert found == {"atelier.spark.pyworker.invalidate_caches"}
