"""The `atelier` command line and the job files: help with examples, date arguments, one-line errors."""

from __future__ import annotations

import ast
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import REPO

from atelier.cli import build_parser
from atelier.errors import ConfigError, WriteConflict
from atelier.runtime import date_range, run_main
from atelier.training.backends import TrainingFailed

ATELIER = str(Path(sys.executable).parent / "atelier")
JOBS = sorted((REPO / "jobs").glob("*.py"))


def subcommands() -> list[str]:
    parser = build_parser()
    return list(parser._subparsers._group_actions[0].choices)  # noqa: SLF001 - argparse has no public accessor


@pytest.mark.parametrize("name", subcommands())
def test_every_command_explains_itself_with_an_example(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([name, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert f"example:\n  atelier {name}" in out
    assert "--set KEY.PATH=VALUE" in out


def test_required_commands_exist() -> None:
    assert {"collect", "features", "tables", "sql", "synth", "submit", "spark-sql"} <= set(subcommands())


def parse_dates(*argv: str) -> tuple[dt.date, dt.date]:
    args = build_parser().parse_args(["collect", "--use-case", "flights_delay", *argv])
    dates = date_range(args)
    return dates.start, dates.end


def test_dates_single_or_range() -> None:
    assert parse_dates("--date", "2013-01-02") == (dt.date(2013, 1, 2), dt.date(2013, 1, 2))
    assert parse_dates("--start", "2013-01-01", "--end", "2013-01-31") == (dt.date(2013, 1, 1), dt.date(2013, 1, 31))
    with pytest.raises(ConfigError, match="not both"):
        parse_dates("--date", "2013-01-02", "--start", "2013-01-01", "--end", "2013-01-03")
    with pytest.raises(ConfigError, match="is before --start"):
        parse_dates("--start", "2013-01-05", "--end", "2013-01-01")
    with pytest.raises(ConfigError, match="a date is required"):
        parse_dates()


def test_bad_date_is_refused_by_the_parser() -> None:
    with pytest.raises(SystemExit):
        parse_dates("--date", "2013-13-01")


@pytest.mark.parametrize(
    "command", [[ATELIER, "collect"], [sys.executable, "jobs/collect.py"]], ids=["atelier", "job file"]
)
def test_config_error_is_one_line_and_exit_status_2_before_spark_starts(command: list[str]) -> None:
    result = subprocess.run(
        [*command, "--use-case", "flights_delay", "--date", "2013-01-01", "--set", "spark.shuffle_partitions=x"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "ConfigError: invalid configuration:" in result.stderr
    assert (
        "--set spark.shuffle_partitions=x: spark.shuffle_partitions: Input should be a valid integer" in result.stderr
    )
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("job", JOBS, ids=lambda path: path.stem)
def test_every_job_file_runs_its_stages_command_as_atelier_does(
    job: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    imported = {node.module for node in ast.walk(ast.parse(job.read_text())) if isinstance(node, ast.ImportFrom)}
    assert "atelier.cli" not in imported, "a job runs its stage's command, not the whole CLI"
    assert any(module.startswith("atelier.") and module.endswith(".entry") for module in imported), imported
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit):
        build_parser().parse_args([job.stem, "--help"])
    result = subprocess.run(
        [sys.executable, str(job), "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "100"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: atelier {job.stem} ")
    assert result.stdout == capsys.readouterr().out


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ConfigError("conf/base/platform.yaml: spark.master: required"), 2),  # refused: the DAGs do not retry
        (WriteConflict("ml.predictions dates 2013-07-04..2013-07-04: gave up after 4 attempt(s)"), 75),  # lost race
        (TrainingFailed("rank 1: killed"), 1),  # the job's own failure: retried
    ],
)
def test_an_error_ends_the_job_with_the_status_that_says_whether_to_retry(
    error: Exception, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    def fail(argv: list[str] | None) -> None:
        raise error

    assert run_main(fail, []) == status
    assert f"{type(error).__name__}: {error}" in caplog.text


def test_an_unexpected_exception_propagates_with_its_traceback() -> None:
    def fail(argv: list[str] | None) -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError):
        run_main(fail, [])
