"""The lake in S3-compatible object storage: `--env objectstore` against S3Proxy on 127.0.0.1.

`scripts/objectstore.sh up` starts S3Proxy (a real S3 server, buckets as folders) with generated
access keys; collect and features run as `atelier` subprocesses whose lake is `s3a://atelier/lake`
(the test process keeps its local session, which has no s3a connector). The feature table read
through the catalog must equal the local-mode one for the same days, its Delta log must be objects
in the bucket, and wrong keys must fail with the store's refusal named.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from tests.conftest import ATELIER, REPO, free_port, rooted_platform, run_atelier, settings_of
from tests.integration.conftest import START

from atelier.config.platform import PlatformConfig
from atelier.spark.tables import Lake

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
LAST = START + dt.timedelta(days=1)
FEATURES = "gold.flight_features"
FINGERPRINT = "concat('rows=', count(*), ' hash=', sum(CAST(hash(*) AS BIGINT)))"


@dataclass(frozen=True)
class Store:
    root: Path
    port: int
    env: dict[str, str]

    def settings(self) -> list[str]:
        """`--env objectstore` and `--set` flags: this store's endpoint; catalog, caches and MLflow under `root`."""
        endpoint = f"--set=spark.extra_conf.spark.hadoop.fs.s3a.endpoint=http://127.0.0.1:{self.port}"
        return ["--env", "objectstore", endpoint, *settings_of(rooted_platform(self.root), lake=False)]

    def run(self, *args: str) -> str:
        return run_atelier(*args, *self.settings(), env=self.env)

    def bucket(self) -> Path:
        """Where S3Proxy keeps the objects of the lake's bucket."""
        return self.root / "store" / "data" / "atelier"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    root = tmp_path_factory.mktemp("objectstore")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"ATELIER_OBJECTSTORE_DIR": str(root / "store"), "ATELIER_OBJECTSTORE_PORT": str(port)}
    script = [str(REPO / "scripts" / "objectstore.sh")]
    try:
        subprocess.run([*script, "up"], env=env, check=True, timeout=300)
        keys = dict(line.split("=", 1) for line in (root / "store" / "credentials.env").read_text().split())
        yield Store(root, port, env | keys)
    finally:
        subprocess.run([*script, "down"], env=env, timeout=60)


@pytest.fixture(scope="module")
def features(store: Store) -> str:
    """collect and features for two days into the bucket; the output of `atelier tables`."""
    days = ["--use-case", "flights_delay", "--start", str(START), "--end", str(LAST)]
    store.run("collect", *days)
    store.run("features", *days)
    return store.run("tables")


def fingerprint(output: str) -> tuple[int, int]:
    rows, digest = re.search(r"rows=(\d+) hash=(-?\d+)", output).groups()
    return int(rows), int(digest)


def test_the_feature_table_in_the_bucket_equals_the_local_one(
    spark: SparkSession, training_lake: PlatformConfig, store: Store, features: str
) -> None:
    local = (
        Lake(spark, training_lake)
        .read(FEATURES)
        .filter(F.col("flight_date").between(START, LAST))
        .selectExpr(f"{FINGERPRINT} AS f")
        .first()["f"]
    )
    remote = store.run("sql", f"SELECT {FINGERPRINT} AS f FROM {FEATURES}")
    assert fingerprint(remote) == fingerprint(local) and fingerprint(local)[0] > 1500


def test_the_tables_are_objects_in_the_bucket(store: Store, features: str) -> None:
    assert f"s3a://atelier/lake/{FEATURES.replace('.', '/')}" in features
    for name in ("bronze.flights", "ml.outcomes", FEATURES):
        commits = list((store.bucket() / "lake" / name.replace(".", "/") / "_delta_log").glob("*.json"))
        assert commits, f"{name}: no Delta commit in the bucket"
    assert (store.root / "metastore").is_dir() and not list(store.root.glob("*/lake"))


def test_wrong_access_keys_are_refused_with_the_store_named(store: Store, features: str) -> None:
    wrong = store.env | {"AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(24)}  # not the key S3Proxy was given
    done = subprocess.run(
        [ATELIER, "sql", f"SELECT count(*) FROM {FEATURES}", *store.settings()],
        cwd=REPO,
        env=wrong,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert "s3a://atelier/lake" in done.stderr and re.search(
        r"403|Forbidden|AccessDenied|SignatureDoesNotMatch", done.stderr
    )
