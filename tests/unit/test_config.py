"""Configuration: both shipped use cases load; every kind of mistake names the file and the key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.conftest import CONF

from atelier.config.loader import list_use_cases, load_platform, load_use_case
from atelier.errors import ConfigError


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    """A writable copy of the shipped configuration."""
    shutil.copytree(CONF / "base", tmp_path / "base")
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_shipped_use_cases_load_and_the_regression_variant_inherits_everything_but_the_label() -> None:
    assert {"flights_delay", "flights_arr_delay"} <= set(list_use_cases(CONF))
    binary = load_use_case("flights_delay", CONF)
    regression = load_use_case("flights_arr_delay", CONF)
    assert binary.label.task == "binary" and regression.label.task == "regression"
    assert regression.sources == binary.sources and regression.features == binary.features
    assert regression.tables.features != binary.tables.features
    assert "dep_hour_sin" in binary.feature_columns("numeric")
    assert "route" in binary.feature_columns("categorical")


def test_platform_defaults_are_embedded_and_local() -> None:
    platform = load_platform(CONF, env="")
    assert platform.lake_root == "var/lake"
    assert platform.spark.master == "local[*]"
    assert platform.mlflow.tracking_uri == "sqlite:///var/mlflow/mlflow.db"


def test_unknown_key_names_file_and_key_path(conf: Path) -> None:
    path = conf / "base" / "use_cases" / "flights_delay.yaml"
    path.write_text(path.read_text().replace("outcome_delay_days: 1", "outcome_delay_days: 1\noutcome_dealy: 2"))
    with pytest.raises(ConfigError, match=r"flights_delay\.yaml: outcome_dealy: unknown key"):
        load_use_case("flights_delay", conf)


def test_wrong_type_names_file_and_nested_key(conf: Path) -> None:
    write(conf / "ci" / "platform.yaml", "spark:\n  shuffle_partitions: many\n")
    with pytest.raises(ConfigError, match=r"ci/platform\.yaml: spark\.shuffle_partitions: .*integer"):
        load_platform(conf, env="ci")


def test_missing_use_case_file_and_missing_env_folder(conf: Path) -> None:
    with pytest.raises(ConfigError, match=r"use_cases/nope\.yaml: file not found"):
        load_use_case("nope", conf)
    with pytest.raises(ConfigError, match=r"environment 'staging' has no folder"):
        load_platform(conf, env="staging")


def test_env_overlay_then_set_overrides_win(conf: Path) -> None:
    write(conf / "cluster" / "platform.yaml", "spark:\n  master: spark://127.0.0.1:7077\nlake_root: /data/lake\n")
    platform = load_platform(
        conf, env="cluster", overrides=["spark.shuffle_partitions=64", "use_case.outcome_delay_days=3"]
    )
    assert platform.spark.master == "spark://127.0.0.1:7077"
    assert platform.spark.app_name == "atelier"  # deep merge keeps the base's other keys
    assert platform.spark.shuffle_partitions == 64 and platform.lake_root == "/data/lake"
    platform = load_platform(conf, overrides=["spark.extra_conf.spark.hadoop.fs.s3a.endpoint=http://127.0.0.1:9000"])
    assert platform.spark.extra_conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9000"  # one dotted key
    platform = load_platform(
        conf, overrides=["spark.extra_conf.spark.ui.killEnabled=false", "spark.extra_conf.x.cores=2"]
    )
    assert platform.spark.extra_conf == {"spark.ui.killEnabled": "false", "x.cores": "2"}  # Spark settings are text
    uc = load_use_case(
        "flights_delay", conf, overrides=["outcome_delay_days=3", "features.5.name=dist", "spark.master=x"]
    )
    assert uc.outcome_delay_days == 3 and uc.features[5].name == "dist"


def test_bad_overrides_are_refused(conf: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key 'sparkk'"):
        load_platform(conf, overrides=["sparkk.master=x"])
    with pytest.raises(ConfigError, match="expected key.path=value"):
        load_platform(conf, overrides=["spark.master"])
    with pytest.raises(ConfigError, match=r"give a key below 'platform'"):
        load_platform(conf, overrides=["platform=x"])
    with pytest.raises(ConfigError, match=r"--set spark.master=\[local: the value is not valid YAML"):
        load_platform(conf, overrides=["spark.master=[local"])
    with pytest.raises(ConfigError, match=r"'99' is not an index"):
        load_use_case("flights_delay", conf, overrides=["features.99.name=x"])


def test_env_substitution_only_for_secrets(conf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(conf / "prod" / "platform.yaml", "mlflow:\n  tracking_uri: postgresql://ml:${PGPASS}@db/mlflow\n")
    with pytest.raises(
        ConfigError, match=r"prod/platform\.yaml: mlflow\.tracking_uri: environment variable PGPASS is not set"
    ):
        load_platform(conf, env="prod")
    monkeypatch.setenv("PGPASS", "s3cret")
    assert load_platform(conf, env="prod").mlflow.tracking_uri == "postgresql://ml:s3cret@db/mlflow"
    write(conf / "prod" / "platform.yaml", "lake_root: ${LAKE}\n")
    with pytest.raises(ConfigError, match=r"lake_root: \$\{VAR\} substitution is for secrets only"):
        load_platform(conf, env="prod")


def test_semantic_checks_name_the_key(conf: Path) -> None:
    path = conf / "base" / "use_cases" / "flights_delay.yaml"
    text = path.read_text()
    path.write_text(text.replace("  - source: planes\n", "  - source: plains\n"))
    with pytest.raises(ConfigError, match=r"clean\.joins\.1\.source 'plains' is not a source"):
        load_use_case("flights_delay", conf)
    path.write_text(text.replace("      tailnum: string\n      year: int\n", "      tailnum: strin\n      year: int\n"))
    with pytest.raises(ConfigError, match=r"sources\.planes\.columns: unknown column types \{'tailnum': 'strin'\}"):
        load_use_case("flights_delay", conf)


def test_extends_cycle_is_reported(conf: Path) -> None:
    write(conf / "base" / "use_cases" / "a.yaml", "extends: b\n")
    write(conf / "base" / "use_cases" / "b.yaml", "extends: a\n")
    with pytest.raises(ConfigError, match="cycle a -> b -> a"):
        load_use_case("a", conf)
