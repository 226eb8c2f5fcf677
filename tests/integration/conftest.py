"""Shared by the integration tests: a lake with June 20 - July 6, 2013 collected and featurized, for training."""

from __future__ import annotations

import datetime as dt
import subprocess
import tempfile
from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession
from tests.conftest import CONF, REPO

from atelier.collect.ingest import collect
from atelier.config.loader import load_use_case
from atelier.config.platform import MlflowConfig, PlatformConfig
from atelier.config.use_case import UseCaseConfig
from atelier.features.build import run_features
from atelier.spark.tables import Lake
from atelier.tracking import registry
from atelier.training.job import train

START, END = dt.date(2013, 6, 20), dt.date(2013, 7, 6)
# Train June 20-29, validate June 30-July 2, test July 3-5 (July 5's outcomes arrive with July 6's collect).
WINDOW = [
    "training.window.start=2013-06-20",
    "training.window.end=2013-07-05",
    "training.split.validation_days=3",
    "training.split.test_days=3",
]
FAST = [
    "training.epochs=3",
    "training.batch_size=256",
    "training.shards=4",
    "training.log_every_steps=5",
    "training.dynamics_every_steps=10",
    "training.model.params.hidden=[32, 16]",
]


def training_use_case(*overrides: str) -> UseCaseConfig:
    """The example use case on the small window, trained fast."""
    return load_use_case("flights_delay", CONF, overrides=[*WINDOW, *FAST, *overrides])


def flights_alone(*overrides: str) -> UseCaseConfig:
    """The example use case with its flights source alone, from a file that `overrides` name (a case of
    tests/data/bad): the case is in that file, and collecting the four other sources on the real data
    (weather's 26,115 rows, validated) cost some 8 of each such collect's 11 s. Those sources are
    collected and validated on the real data by the training lake and test_validation_gate."""
    use_case = load_use_case("flights_delay", CONF, overrides=["sources.flights.package=", *overrides])
    return use_case.model_copy(update={"sources": {"flights": use_case.sources["flights"]}})


@pytest.fixture(scope="session")
def training_lake(
    spark: SparkSession, platform: PlatformConfig, tmp_path_factory: pytest.TempPathFactory
) -> PlatformConfig:
    root = tmp_path_factory.mktemp("training")
    lake = platform.model_copy(
        update={
            "lake_root": str(root / "lake"),
            "cache_dir": str(root / "cache"),
            "reports_dir": str(root / "reports"),
            "mlflow": MlflowConfig(tracking_uri=f"sqlite:///{root}/mlflow.db", artifact_root=str(root / "artifacts")),
        }
    )
    uc = training_use_case()
    collect(Lake(spark, lake), uc, START, END)
    run_features(Lake(spark, lake), uc, START, END)
    return lake


ARMS = (
    "scoring.arms=[{name: champion, role: champion, alias: champion},"
    " {name: challenger, role: challenger, alias: challenger, share: 0.2},"
    " {name: shadow_linear, role: shadow, version: 'SHADOW'}]"
)
ARMS_MODEL = "training.registered_model=flights_delay_arms"  # apart from the promotion tests' model


@pytest.fixture(scope="session")
def arms(spark: SparkSession, training_lake: PlatformConfig) -> dict[str, str]:
    """A champion, a challenger (another seed) and a linear shadow, trained on the small window."""
    lake = training_lake
    versions = {}
    for name, extra in (
        ("champion", []),
        ("challenger", ["training.seed=7"]),
        ("shadow", ["training.model.name=linear", "training.model.params={}"]),
    ):
        versions[name] = train(
            Lake(spark, lake), training_use_case("training.backend=local", ARMS_MODEL, *extra)
        ).model_version
    uc = training_use_case(ARMS_MODEL)
    for alias in ("champion", "challenger"):
        registry.move_alias(Lake(spark, lake), uc.model_name, alias, versions[alias], "assign", "scoring test")
    return versions


def scoring_overrides(arms: dict[str, str]) -> list[str]:
    """The overrides (as `--set` takes them) of the small use case with the three arms, logging 10% of
    served predictions."""
    return [*WINDOW, *FAST, ARMS.replace("SHADOW", arms["shadow"]), ARMS_MODEL, "scoring.prediction_log_percent=10"]


def scoring_use_case(arms: dict[str, str], *overrides: str) -> UseCaseConfig:
    """The small use case with the three arms (`scoring_overrides`)."""
    return load_use_case("flights_delay", CONF, overrides=[*scoring_overrides(arms), *overrides])


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """The URI of a new PostgreSQL cluster on 127.0.0.1 (database mlflow), stopped and removed after the module."""
    script, folder = str(REPO / "scripts" / "postgres.sh"), tempfile.mkdtemp(prefix="atelier-pg-")
    started = subprocess.run([script, "start", folder], capture_output=True, text=True)
    assert started.returncode == 0, f"scripts/postgres.sh start failed: {started.stderr}"
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run([script, "stop", folder], check=True)
