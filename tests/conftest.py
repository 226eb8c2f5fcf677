"""One SparkSession per test process: local[2], UI off, 2 shuffle partitions, Delta, temp catalog."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from tests.jvm_archive import driver_java_options

from atelier.config.platform import MlflowConfig, PlatformConfig, SparkConfig
from atelier.spark.session import build_session

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
ATELIER = str(Path(sys.executable).parent / "atelier")
pytest_plugins = ["tests.tiers"]
# The JIT's first tier only, for the JVMs of the jobs, shells and Airflow tasks the tests start: each
# lives under a minute, where C2's compiling costs more than it gives. A one-day features job: 31 -> 26 s.
SHORT_LIVED = "-XX:TieredStopAtLevel=1"
# The test process's own JVM lives the whole run: throughput first (three in-process files: 281 -> 256 s).
LONG_LIVED = "-XX:+UseParallelGC"


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


def rooted_platform(root: Path, mlflow: MlflowConfig | None = None) -> PlatformConfig:
    """A platform with everything under `root`: lake, catalog, caches, reports and (unless given) MLflow on SQLite."""
    return PlatformConfig(
        lake_root=str(root / "lake"),
        metastore_dir=str(root / "metastore"),
        cache_dir=str(root / "cache"),
        reports_dir=str(root / "reports"),
        mlflow=mlflow
        or MlflowConfig(tracking_uri=f"sqlite:///{root}/mlflow.db", artifact_root=str(root / "artifacts")),
    )


def settings_of(platform: PlatformConfig, *, lake: bool = True, **spark: object) -> list[str]:
    """`--set` flags that point an `atelier` process at `platform`'s lake (unless `lake` is False: the
    overlay's), catalog, caches, reports and MLflow, on a small driver (1g, 2 shuffle partitions) with
    the `spark.*` settings given (`master="local[2]"`)."""
    where = {
        **{f"spark.{k}": v for k, v in {"driver_memory": "1g", "shuffle_partitions": 2, **spark}.items()},
        **({"lake_root": platform.lake_root} if lake else {}),
        "metastore_dir": platform.metastore_dir,
        "cache_dir": platform.cache_dir,
        "reports_dir": platform.reports_dir,
        "mlflow.tracking_uri": platform.mlflow.tracking_uri,
        "mlflow.artifact_root": platform.mlflow.artifact_root,
    }
    return [f"--set={k}={v}" for k, v in where.items()]


def pytest_configure(config: pytest.Config) -> None:
    """Every Spark JVM of the run (this process's and its subprocesses') maps the class-data-sharing
    archive (tests/jvm_archive.py), built first when this machine has none, and the JVMs of the
    processes the tests start compile with C1 alone (`SHORT_LIVED`); options already in
    `SPARK_SUBMIT_OPTS` are kept as they are."""
    if "SPARK_SUBMIT_OPTS" not in os.environ:
        with tempfile.TemporaryDirectory(prefix="atelier-jvm-warmup-") as root:
            options = driver_java_options(rooted_platform(Path(root)))
        os.environ["SPARK_SUBMIT_OPTS"] = f"{options} {SHORT_LIVED}".strip()


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
    """The test process's session; its JVM lives the whole run, so it keeps the JIT's second tier and
    collects with the parallel collector (unless `SPARK_SUBMIT_OPTS` names a collector of its own)."""
    options = os.environ["SPARK_SUBMIT_OPTS"]
    own = [o for o in options.split() if o != SHORT_LIVED]
    if not any(o.startswith("-XX:+Use") and o.endswith("GC") for o in own):
        own.append(LONG_LIVED)
    os.environ["SPARK_SUBMIT_OPTS"] = " ".join(own)
    try:
        session = build_session(platform, app_name="atelier-tests")
    finally:
        os.environ["SPARK_SUBMIT_OPTS"] = options
    yield session
    session.stop()
