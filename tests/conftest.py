"""One SparkSession per test process: local[2], UI off, 2 shuffle partitions, Delta, temp catalog."""
from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from atelier.config.schema import PlatformConfig, SparkConfig
from atelier.spark.session import build_session

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> PlatformConfig:
    root = tmp_path_factory.mktemp("atelier")
    return PlatformConfig(
        lake_root=str(root / "lake"),
        metastore_dir=str(root / "metastore"),
        cache_dir=str(root / "cache"),
        spark=SparkConfig(master="local[2]", shuffle_partitions=2, driver_memory="2g"),
    )


@pytest.fixture(scope="session")
def spark(platform: PlatformConfig) -> SparkSession:
    session = build_session(platform, app_name="atelier-tests")
    yield session
    session.stop()
