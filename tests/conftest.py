"""One SparkSession per test process: local[2], UI off, 2 shuffle partitions, Delta, temp catalog."""
from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from atelier.config.schema import PlatformConfig, SparkConfig
from atelier.spark.session import build_session

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
ATELIER = str(Path(sys.executable).parent / "atelier")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_atelier(*args: str, env: dict[str, str], timeout: int = 600) -> str:
    """Run `atelier ARGS` in the checkout as a separate process; its output (stdout and stderr). Fails the test on error."""
    done = subprocess.run([ATELIER, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"atelier {args[0]} failed:\n{output[-4000:]}"
    return output


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
