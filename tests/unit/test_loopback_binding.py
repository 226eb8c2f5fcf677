"""Every server atelier starts listens on 127.0.0.1 by default (checked on the command lines and settings)."""

from __future__ import annotations

import re

import pytest
from tests.conftest import CONF, REPO

from atelier import cli, spark_entry
from atelier.config.loader import load_platform, load_use_case
from atelier.config.platform import PlatformConfig, SparkConfig
from atelier.spark.session import launch_env, on_loopback, session_conf, submit_args
from atelier.tracking import entry as tracking_entry

SCRIPTS = REPO / "scripts"


class Started(Exception):
    """Raised instead of starting a server; carries what would have run."""

    def __init__(self, command: list[str], env: dict[str, str] | None = None) -> None:
        super().__init__(command)
        self.command, self.env = command, env or {}


def host_of(command: list[str]) -> str:
    return command[command.index("--host") + 1]


@pytest.fixture(autouse=True)
def no_spark_local_ip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPARK_LOCAL_IP", raising=False)


def test_mlflow_ui_listens_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    def execv(_path: str, command: list[str]) -> None:
        raise Started(command)

    monkeypatch.setattr(tracking_entry.os, "execv", execv)
    with pytest.raises(Started) as started:
        cli.main(["ui", "mlflow", "--conf-dir", str(CONF)])
    assert started.value.command[2:4] == ["mlflow", "server"]
    assert host_of(started.value.command) == "127.0.0.1"


def test_model_server_listens_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    def execve(_path: str, command: list[str], env: dict[str, str]) -> None:
        raise Started(command, env)

    monkeypatch.setattr(tracking_entry.os, "execve", execve)
    monkeypatch.setattr(
        tracking_entry, "_registry_use_case", lambda args: ("sqlite:///unused.db", load_use_case(args.use_case, CONF))
    )
    monkeypatch.setattr("atelier.tracking.registry.alias_version", lambda model, alias: "1")
    with pytest.raises(Started) as started:
        cli.main(["serve", "--use-case", "flights_delay"])
    assert started.value.command[2:5] == ["mlflow", "models", "serve"]
    assert host_of(started.value.command) == "127.0.0.1"


@pytest.mark.parametrize("env", [None, "standalone"])
def test_spark_driver_binds_loopback_and_its_ui_is_off(env: str | None) -> None:
    platform = load_platform(CONF, env)
    conf = session_conf(platform)
    assert on_loopback(platform)
    assert conf["spark.ui.enabled"] == "false"
    assert conf["spark.driver.bindAddress"] == conf["spark.driver.host"] == "127.0.0.1"
    assert "spark.ui.host" not in conf  # not a Spark setting: the UI binds to SPARK_LOCAL_IP
    assert launch_env(platform) == {"SPARK_LOCAL_IP": "127.0.0.1"}
    assert "spark.ui.enabled=false" in submit_args(platform)


def test_a_remote_cluster_driver_is_left_to_its_environment() -> None:
    platform = PlatformConfig(spark=SparkConfig(master="spark://spark-master:7077"))
    assert not on_loopback(platform)
    assert launch_env(platform) == {}
    assert "spark.driver.bindAddress" not in session_conf(platform)


def test_a_spark_local_ip_already_set_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARK_LOCAL_IP", "10.0.0.5")
    assert launch_env(PlatformConfig()) == {}


@pytest.mark.parametrize(
    "argv", [["submit", "collect", "--", "--use-case", "flights_delay"], ["spark-sql", "--", "-e", "SELECT 1"]]
)
def test_spark_submit_and_spark_sql_start_with_spark_local_ip_on_loopback(
    argv: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def call(command: list[str], env: dict[str, str]) -> int:
        raise Started(command, env)

    monkeypatch.setattr(spark_entry.subprocess, "call", call)
    with pytest.raises(Started) as started:
        cli.main([argv[0], "--conf-dir", str(CONF), *argv[1:]])
    assert started.value.env["SPARK_LOCAL_IP"] == "127.0.0.1"
    assert "spark.ui.enabled=false" in started.value.command
    passed_on = argv[argv.index("--") + 1 :]
    assert started.value.command[-len(passed_on) :] == passed_on and "--" not in started.value.command


def test_the_local_cluster_script_binds_master_workers_and_uis_to_loopback() -> None:
    script = (SCRIPTS / "cluster.sh").read_text()
    assert re.search(r"^export .*SPARK_LOCAL_IP=127\.0\.0\.1", script, re.MULTILINE)
    starts = [line for line in script.splitlines() if "org.apache.spark.deploy." in line and "start " in line]
    assert len(starts) == 2 and all("--host 127.0.0.1" in line for line in starts), starts


def test_the_airflow_script_defaults_to_loopback() -> None:
    script = (SCRIPTS / "airflow.sh").read_text()
    assert "host=${ATELIER_AIRFLOW_HOST:-127.0.0.1}" in script
    assert "--host $host" in script


def test_the_compose_stack_publishes_ports_on_loopback_only() -> None:
    compose = (REPO / "docker" / "compose.yaml").read_text()
    ports = re.findall(r"ports:\s*\[([^\]]*)\]", compose)
    assert ports and all(p.strip().strip("\"'").startswith("127.0.0.1:") for line in ports for p in line.split(","))
