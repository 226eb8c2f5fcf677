"""The outcome file: a job that refuses its input says so to the task that ran it, which does not retry it."""

from __future__ import annotations

from pathlib import Path

import pytest

from atelier import outcome
from atelier.collect.entry import COLLECT
from atelier.errors import TableError, WriteConflict
from atelier.runtime import run_main


def test_a_refused_input_is_recorded_with_its_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "outcomes" / "collect" / "run.try1.json"
    monkeypatch.setenv(outcome.ENV, str(path))

    def refuse(argv: list[str] | None) -> None:
        raise TableError("bronze.weather holds no rows for 2013-07-07")

    assert run_main(refuse, []) == 2
    assert outcome.refusal(str(path)) == "TableError: bronze.weather holds no rows for 2013-07-07"


def test_a_lost_race_is_recorded_but_is_no_refusal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "run.try1.json"
    monkeypatch.setenv(outcome.ENV, str(path))

    def lose(argv: list[str] | None) -> None:
        raise WriteConflict("ml.predictions: gave up after 4 attempt(s)")

    assert run_main(lose, []) == 75
    assert path.is_file() and outcome.refusal(str(path)) is None  # retried


def test_a_job_that_ends_otherwise_records_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "run.try1.json"
    monkeypatch.setenv(outcome.ENV, str(path))
    assert run_main(lambda argv: None, []) == 0
    with pytest.raises(KeyError):
        run_main(lambda argv: {}["boom"], [])
    assert not path.exists() and outcome.refusal(str(path)) is None


def test_an_unwritable_outcome_file_keeps_the_jobs_exit_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "file").write_text("")
    monkeypatch.setenv(outcome.ENV, str(tmp_path / "file" / "run.try1.json"))  # its folder is a file

    def refuse(argv: list[str] | None) -> None:
        raise TableError("no rows")

    assert run_main(refuse, []) == 2
    assert "could not write the outcome file" in caplog.text


def test_arguments_the_job_refuses_are_a_refusal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """argparse exits with 2 on a bad argument (a mis-templated task): as a refused input, not retried."""
    path = tmp_path / "run.try1.json"
    monkeypatch.setenv(outcome.ENV, str(path))
    with pytest.raises(SystemExit) as stop:
        COLLECT.main(["--use-case", "flights_delay", "--date", "2013-13-01"])
    assert stop.value.code == 2
    assert outcome.refusal(str(path)) == "atelier collect: the arguments were refused (usage above in the log)"


def test_help_is_no_refusal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "run.try1.json"
    monkeypatch.setenv(outcome.ENV, str(path))
    with pytest.raises(SystemExit) as stop:
        COLLECT.main(["--help"])
    assert stop.value.code == 0 and not path.exists()
