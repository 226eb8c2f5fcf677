"""The pipeline on a real Spark standalone cluster: a master and two 1-core workers on 127.0.0.1.

collect -> features -> train (Horovod, 2 processes on the 2 executors) -> score run as `atelier`
subprocesses with `--env standalone`, on their own lake, catalog and MLflow store (the test process
keeps its local session). The feature table must equal the local-mode one for the same days, and
every row must be scored by a model that beats chance.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from tests.conftest import REPO, free_port, rooted_platform, run_atelier, settings_of
from tests.integration.conftest import FAST, START

from atelier.config.platform import PlatformConfig
from atelier.model.metrics import binary_metrics
from atelier.spark.tables import Lake

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
LAST = START + dt.timedelta(days=6)  # June 20-26: collect, features, score
HELD_OUT = (START + dt.timedelta(days=4), START + dt.timedelta(days=5))  # validation and test days
# Train June 20-23, validate June 24, test June 25 (its outcomes arrive with June 26's collect).
TRAINING = [
    "training.window.start=2013-06-20",
    "training.window.end=2013-06-25",
    "training.split.validation_days=1",
    "training.split.test_days=1",
    "training.backend=horovod",
    "training.num_proc=2",
    *FAST,
]


@dataclass(frozen=True)
class Cluster:
    root: Path
    master: str
    ui: str
    env: dict[str, str]

    def platform(self) -> PlatformConfig:
        """The cluster jobs' platform: everything under `root`."""
        return rooted_platform(self.root)

    def settings(self) -> list[str]:
        """`--env standalone` and `--set` flags that point a job at this cluster and this root; its
        executors, each living as long as one job, get the JVM options of the drivers the tests start
        (tests/conftest.py: the class-data-sharing archive, the JIT's first tier)."""
        executors = f"--set=spark.extra_conf.spark.executor.extraJavaOptions={os.environ.get('SPARK_SUBMIT_OPTS', '')}"
        return ["--env", "standalone", *settings_of(self.platform(), master=self.master), executors]

    def run(self, *args: str) -> str:
        """Run `atelier ARGS` against the cluster; its output (stdout and stderr)."""
        return run_atelier(*args, env=self.env)

    def apps(self) -> list[dict]:
        """The master's record of the applications that ran on it."""
        with urllib.request.urlopen(f"{self.ui}/json/", timeout=10) as answer:
            return json.load(answer)["completedapps"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    port, ui_port = free_port(), free_port()
    env = {
        **os.environ,
        "ATELIER_CLUSTER_DIR": str(root / "cluster"),
        "ATELIER_CLUSTER_PORT": str(port),
        "ATELIER_CLUSTER_UI_PORT": str(ui_port),
        "ATELIER_CLUSTER_WORKER_UI_PORT": "0",
    }
    script = [str(REPO / "scripts" / "cluster.sh")]
    try:
        subprocess.run([*script, "up"], env=env, check=True, timeout=180)
        yield Cluster(root, f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{ui_port}", env)
    finally:
        subprocess.run([*script, "down"], env=env, timeout=120)


@pytest.fixture(scope="module")
def pipeline(cluster: Cluster) -> str:
    """collect, features, train and score June 20-26 on the cluster; the registered model version."""
    days = ["--start", str(START), "--end", str(LAST)]
    cluster.run("collect", "--use-case", "flights_delay", *days, *cluster.settings())
    cluster.run("features", "--use-case", "flights_delay", *days, *cluster.settings())
    trained = cluster.run(
        "train", "--use-case", "flights_delay", *cluster.settings(), *(f"--set={s}" for s in TRAINING)
    )
    version = next(line.rsplit(" ", 1)[1] for line in trained.splitlines() if line.startswith("run "))
    test_auc = float(next(w for w in trained.split() if w.startswith("test_auc=")).split("=")[1])
    assert test_auc > 0.5, trained[-2000:]
    arms = f"--set=scoring.arms=[{{name: champion, role: champion, version: '{version}'}}]"
    # Scoring goes through spark-submit (jobs/score.py), as Airflow starts the jobs.
    cluster.run(
        "submit",
        *cluster.settings(),
        "score",
        "--",
        "--use-case",
        "flights_delay",
        *days,
        *cluster.settings(),
        arms,
        "--set=scoring.prediction_log_percent=0",
    )
    return version


def test_the_jobs_ran_on_the_cluster_and_training_used_both_workers(cluster: Cluster, pipeline: str) -> None:
    apps = {a["name"]: a["id"] for a in cluster.apps()}
    for job in ("collect", "features", "train", "score"):
        assert f"atelier-{job}-flights_delay" in apps, sorted(apps)
    train_app = apps["atelier-train-flights_delay"]
    # Each 1-core worker ran an executor of the training app: Horovod's two processes had one each.
    assert all((cluster.root / "cluster" / f"worker-{i}" / train_app).is_dir() for i in (1, 2))


def test_the_cluster_features_equal_the_local_ones(
    spark: SparkSession, training_lake: PlatformConfig, cluster: Cluster, pipeline: str
) -> None:
    days = F.col("flight_date").between(START, LAST)
    local = Lake(spark, training_lake).read("gold.flight_features").filter(days)
    remote = Lake(spark, cluster.platform()).read("gold.flight_features")
    assert remote.count() == local.count() > 5000
    assert remote.exceptAll(local).count() == 0 and local.exceptAll(remote).count() == 0


def test_every_row_is_scored_by_a_model_that_beats_chance(spark: SparkSession, cluster: Cluster, pipeline: str) -> None:
    lake = cluster.platform()
    features = Lake(spark, lake).read("gold.flight_features")
    predictions = Lake(spark, lake).read("ml.predictions")
    assert predictions.filter(f"NOT served OR model_version <> '{pipeline}'").count() == 0
    scored = predictions.groupBy("score_date").agg(F.countDistinct("flight_id").alias("n"))
    rows = features.groupBy(F.col("flight_date").alias("score_date")).agg(F.count("*").alias("n"))
    assert predictions.count() == features.count()
    assert scored.exceptAll(rows).count() == 0 and rows.exceptAll(scored).count() == 0

    # On the days the model did not train on, the served scores rank late flights above the others.
    outcomes = Lake(spark, lake).read("ml.outcomes").filter(F.col("flight_date").between(*HELD_OUT))
    labeled = (
        predictions.join(outcomes, "flight_id")
        .where("arr_delay IS NOT NULL")
        .select("score", (F.col("arr_delay") >= 15).cast("int").alias("label"))
        .toPandas()
    )
    assert len(labeled) > 1000
    auc = binary_metrics(labeled["label"].to_numpy(), labeled["score"].to_numpy(np.float64), 0.5)["auc"]
    assert auc > 0.5, auc
