"""Dates, names and table names from the command line are checked before they reach SQL or a path."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
from tests.conftest import CONF

from atelier import runtime
from atelier.cli import build_parser
from atelier.config.loader import load_platform, load_use_case
from atelier.errors import ConfigError, InputRefused
from atelier.identifiers import check_identifier, check_table_name, quoted
from atelier.spark.tables import date_predicate, split_name

HOSTILE = [
    "../flights_delay",
    "flights_delay/..",
    "a/b",
    "..",
    "",
    "1st",
    "x y",
    "x;DROP TABLE t",
    "x`",
    "x'",
    "x.y",
    "gold\nx",
]


@pytest.mark.parametrize("value", ["flights_delay", "_x", "X9"])
def test_identifiers_pass(value: str) -> None:
    assert check_identifier(value, "--use-case") == value


@pytest.mark.parametrize("value", HOSTILE)
def test_anything_else_is_refused_naming_the_argument(value: str) -> None:
    with pytest.raises(InputRefused, match="^" + re.escape(f"--use-case {value!r} is not a name")):
        check_identifier(value, "--use-case")


def test_table_names_are_two_identifiers() -> None:
    assert check_table_name("gold.flight_features", "--set") == ("gold", "flight_features")
    assert split_name("ml.predictions") == ("ml", "predictions")
    for bad in ["gold", "gold.a.b", "gold.x;DROP TABLE y", "`gold`.x", "gold.", ".x", "gold.x y"]:
        with pytest.raises(InputRefused, match=r"table name .* is not <database>\.<table>"):
            split_name(bad)


def test_names_in_sql_text_are_quoted_with_backticks_doubled() -> None:
    assert quoted("gold", "flight_features") == "`gold`.`flight_features`"
    assert quoted("a`b") == "`a``b`"
    assert date_predicate("d`ay", dt.date(2013, 1, 1), dt.date(2013, 1, 2)) == (
        "`d``ay` >= DATE'2013-01-01' AND `d``ay` <= DATE'2013-01-02'"
    )


@pytest.mark.parametrize("value", HOSTILE[:5])
def test_use_case_and_environment_names_cannot_leave_the_configuration_folder(value: str) -> None:
    with pytest.raises(InputRefused, match="--use-case"):
        load_use_case(value, CONF)
    with pytest.raises(InputRefused, match=r"--env \(or \$ATELIER_ENV\)"):
        load_platform(CONF, env=value or "./")


def test_extends_names_a_use_case_file_too(tmp_path: Path) -> None:
    shutil.copytree(CONF / "base", tmp_path / "base")
    (tmp_path / "base" / "use_cases" / "child.yaml").write_text("extends: ../../base/use_cases/flights_delay\n")
    with pytest.raises(InputRefused, match="use case 'child': extends '../../base/use_cases/flights_delay'"):
        load_use_case("child", tmp_path)


@pytest.mark.parametrize(
    "override",
    [
        "tables.features=gold.x;DROP TABLE y",
        "monitoring.alerts_table=ml.alerts`",
        "scoring.predictions_table=predictions",
        "sources={'a.b': {}}",
    ],
)
def test_table_and_source_names_in_configuration_are_checked_when_loaded(override: str) -> None:
    with pytest.raises(ConfigError, match=f"--set {override.split('=')[0]}"):
        load_use_case("flights_delay", CONF, overrides=[override])


def test_database_names_are_identifiers() -> None:
    with pytest.raises(ConfigError, match=r"databases\.gold: String should match pattern"):
        load_platform(CONF, overrides=["databases.gold=gold`; DROP DATABASE x"])


def test_every_date_argument_is_parsed_as_a_date() -> None:
    subparsers = build_parser()._subparsers._group_actions[0].choices  # noqa: SLF001 - argparse has no accessor
    dated = [
        (name, action)
        for name, sub in subparsers.items()
        for action in sub._actions  # noqa: SLF001
        if action.dest in ("date", "start", "end")
    ]
    assert dated, "no command takes dates?"
    assert all(action.type is runtime.parse_date for _, action in dated), [
        n for n, a in dated if a.type is not runtime.parse_date
    ]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["score", "--use-case", "flights_delay", "--date", "2013-01-01' OR '1'='1"])
