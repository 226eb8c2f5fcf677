"""The Spark settings every job starts with (session_conf), beyond the network ones (test_loopback_binding)."""

from __future__ import annotations

from atelier.config.platform import PlatformConfig, SparkConfig
from atelier.spark.session import session_conf

SNAPSHOT_PARTITIONS = "spark.databricks.delta.snapshotPartitions"


def test_delta_rebuilds_table_state_in_as_many_tasks_as_a_shuffle() -> None:
    assert session_conf(PlatformConfig(spark=SparkConfig(shuffle_partitions=3)))[SNAPSHOT_PARTITIONS] == "3"


def test_extra_conf_overrides_the_snapshot_partitions() -> None:
    platform = PlatformConfig(spark=SparkConfig(shuffle_partitions=3, extra_conf={SNAPSHOT_PARTITIONS: "50"}))
    assert session_conf(platform)[SNAPSHOT_PARTITIONS] == "50"
