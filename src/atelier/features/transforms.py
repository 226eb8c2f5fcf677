"""Stateless feature transforms: SQL expressions, cyclic encodings and named built-ins."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import holidays
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from atelier.config.features import FeatureConfig
from atelier.errors import ConfigError


@dataclass(frozen=True)
class BuildWindow:
    """The dates a build covers; built-ins use it to bound their lookups (e.g. holiday years)."""

    start: dt.date
    end: dt.date


def holiday_distance(window: BuildWindow, column: str, country: str = "US", cap_days: int = 30) -> Column:
    """Days from the date in `column` to the nearest public holiday of `country`, capped at `cap_days`."""
    years = range(window.start.year - 1, window.end.year + 2)
    days = sorted(holidays.country_holidays(country, years=years))
    literals = F.array(*[F.lit(d) for d in days])
    nearest = F.array_min(F.transform(literals, lambda h: F.abs(F.datediff(F.col(column), h))))
    return F.least(nearest, F.lit(cap_days)).cast("double")


BUILTINS: dict[str, Callable[..., Column]] = {"holiday_distance": holiday_distance}


def cyclic(value: Column, period: float) -> tuple[Column, Column]:
    """sin and cos of a periodic value, so that 23:59 sits next to 00:00."""
    angle = value.cast("double") * (2.0 * math.pi / period)
    return F.sin(angle), F.cos(angle)


def feature_columns(feature: FeatureConfig, window: BuildWindow) -> dict[str, Column]:
    """The output column(s) of one feature, typed: double for numeric, string for categorical."""
    if feature.builtin:
        fn = BUILTINS.get(feature.builtin)
        if fn is None:
            raise ConfigError(
                f"feature '{feature.name}': unknown builtin '{feature.builtin}'; known: {sorted(BUILTINS)}"
            )
        value = _call_builtin(fn, feature, window)
    else:
        value = F.expr(feature.expr) if feature.expr else F.col(feature.name)
    if feature.type == "numeric" and feature.cyclic:
        sin, cos = cyclic(value, feature.cyclic)
        return {f"{feature.name}_sin": sin, f"{feature.name}_cos": cos}
    cast = "string" if feature.type == "categorical" else "double"
    return {feature.name: value.cast(cast)}


def _call_builtin(fn: Callable[..., Column], feature: FeatureConfig, window: BuildWindow) -> Column:
    args: dict[str, Any] = dict(feature.args)
    try:
        return fn(window, **args)
    except TypeError as exc:
        raise ConfigError(f"feature '{feature.name}': bad args {args} for builtin '{feature.builtin}': {exc}") from exc


def build_features(silver: DataFrame, features: list[FeatureConfig], keep: list[str], window: BuildWindow) -> DataFrame:
    """The feature table's rows: the `keep` columns (key, date, event time) and every feature output."""
    outputs: dict[str, Column] = {}
    for feature in features:
        outputs.update(feature_columns(feature, window))
    return silver.select(*[F.col(c) for c in keep], *[col.alias(name) for name, col in outputs.items()])
