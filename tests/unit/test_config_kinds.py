"""Joins, features, rules and arms are one model per kind (`type`, `action`, `role`): a key of another
kind, or a missing key of this one, is refused naming the file, the key path and the kind."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from tests.conftest import CONF

from atelier.config.features import CategoricalFeature, NumericFeature
from atelier.config.loader import list_use_cases, load_use_case, use_case_from_mapping
from atelier.errors import ConfigError

FILE = "flights_delay.yaml"
ENVS = sorted(p.name for p in CONF.iterdir() if p.is_dir() and p.name != "base")


def named(items: list[dict], name: str, key: str = "name") -> dict:
    return next(item for item in items if item[key] == name)


def flights_rules(data: dict, kind: str) -> list[dict]:
    return data["validation"]["tables"]["flights"][kind]


@pytest.mark.parametrize("env", ["", *ENVS])
def test_every_shipped_use_case_loads_in_every_environment(env: str) -> None:
    for name in list_use_cases(CONF):
        use_case = load_use_case(name, CONF, env=env)
        assert [j.type for j in use_case.clean.joins] == ["asof", "lookup", "lookup", "lookup"]
        kinds = {type(f) for f in use_case.features}
        assert kinds == {NumericFeature, CategoricalFeature}  # a feature without `type` is numeric


def test_a_dumped_use_case_loads_again_unchanged() -> None:
    """What a training run logs (config/use_case.yaml) is what `--from-run` reads back."""
    use_case = load_use_case("flights_delay", CONF)
    dumped = yaml.safe_load(yaml.safe_dump(use_case.model_dump(mode="json")))
    assert use_case_from_mapping(dumped, "run: config/use_case.yaml") == use_case


def test_a_past_run_s_config_with_the_other_kinds_keys_at_their_old_defaults_loads() -> None:
    """Runs logged before the kinds were separate models hold every key of every kind."""
    data = yaml.safe_load((CONF / "base" / "use_cases" / FILE).read_text())
    named(data["clean"]["joins"], "planes", "source").update(left_time=None, tolerance_hours=None, time_alias=None)
    named(data["clean"]["rules"], "scheduled_time_valid")["columns"] = []
    named(data["features"], "carrier")["cyclic"] = None
    named(flights_rules(data, "table_rules"), "schema").update(column=None, min_rows=1, trailing_days=7)
    named(data["scoring"]["arms"], "champion")["share"] = 0.0
    assert use_case_from_mapping(data, "run: config/use_case.yaml") == load_use_case("flights_delay", CONF)
    named(data["scoring"]["arms"], "champion")["share"] = 0.5  # not a default: it meant something
    with pytest.raises(ConfigError, match=r"scoring\.arms\.0\.share \('champion'\): unknown key for 'champion'"):
        use_case_from_mapping(data, "run: config/use_case.yaml")


def set_join_time(d: dict) -> None:
    named(d["clean"]["joins"], "planes", "source")["left_time"] = "sched_dep_ts"


def drop_tolerance(d: dict) -> None:
    del named(d["clean"]["joins"], "weather", "source")["tolerance_hours"]


def drop_join_type(d: dict) -> None:
    del named(d["clean"]["joins"], "planes", "source")["type"]


def misspell_join_type(d: dict) -> None:
    named(d["clean"]["joins"], "planes", "source")["type"] = "lokup"


def columns_on_drop(d: dict) -> None:
    named(d["clean"]["rules"], "scheduled_time_valid")["columns"] = ["sched_dep_time"]


def set_null_without_columns(d: dict) -> None:
    del named(d["clean"]["rules"], "distance_positive")["columns"]


def cyclic_categorical(d: dict) -> None:
    named(d["features"], "carrier")["cyclic"] = 7


def between_without_bounds(d: dict) -> None:
    rule = named(flights_rules(d, "row_rules"), "distance_plausible")
    del rule["min"], rule["max"]


def values_on_between(d: dict) -> None:
    named(flights_rules(d, "row_rules"), "distance_plausible")["values"] = [1, 2]


def in_set_without_values(d: dict) -> None:
    del named(flights_rules(d, "row_rules"), "origin_is_nyc")["values"]


def not_null_without_columns(d: dict) -> None:
    del named(flights_rules(d, "row_rules"), "key_present")["columns"]


def freshness_without_age(d: dict) -> None:
    del named(flights_rules(d, "table_rules"), "fresh")["max_age_hours"]


def window_on_schema(d: dict) -> None:
    named(flights_rules(d, "table_rules"), "schema")["trailing_days"] = 3


def share_on_champion(d: dict) -> None:
    named(d["scoring"]["arms"], "champion")["share"] = 0.5


def challenger_without_share(d: dict) -> None:
    del named(d["scoring"]["arms"], "challenger")["share"]


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (set_join_time, r"clean\.joins\.1\.left_time: unknown key for 'lookup'"),
        (drop_tolerance, r"clean\.joins\.0\.tolerance_hours: Field required for 'asof'"),
        (drop_join_type, r"clean\.joins\.1\.type: Field required"),
        (misspell_join_type, r"clean\.joins\.1\.type: 'lokup' is not one of 'lookup', 'asof'"),
        (columns_on_drop, r"clean\.rules\.0\.columns \('scheduled_time_valid'\): unknown key for 'drop'"),
        (set_null_without_columns, r"clean\.rules\.1\.columns \('distance_positive'\): Field required for 'set_null'"),
        (cyclic_categorical, r"features\.\d+\.cyclic \('carrier'\): unknown key for 'categorical'"),
        (between_without_bounds, r"row_rules\.2: row rule 'distance_plausible': between needs 'min' or 'max'"),
        (values_on_between, r"row_rules\.2\.values \('distance_plausible'\): unknown key for 'between'"),
        (in_set_without_values, r"row_rules\.1\.values \('origin_is_nyc'\): Field required for 'in_set'"),
        (not_null_without_columns, r"row_rules\.0: row rule 'key_present': not_null needs 'columns'"),
        (freshness_without_age, r"table_rules\.3\.max_age_hours \('fresh'\): Field required for 'freshness'"),
        (window_on_schema, r"table_rules\.0\.trailing_days \('schema'\): unknown key for 'schema'"),
        (share_on_champion, r"scoring\.arms\.0\.share \('champion'\): unknown key for 'champion'"),
        (challenger_without_share, r"scoring\.arms\.1\.share \('challenger'\): Field required for 'challenger'"),
    ],
)
def test_a_key_wrong_for_the_kind_is_named(edit: Callable[[dict], None], error: str, tmp_path: Path) -> None:
    shutil.copytree(CONF / "base", tmp_path / "base")
    path = tmp_path / "base" / "use_cases" / FILE
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ConfigError, match=rf"use_cases/{FILE}: \S*{error}"):
        load_use_case("flights_delay", tmp_path)
