"""Stateless feature transforms and the stateful normalizer, on tiny frames."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from atelier.config.features import CategoricalFeature, NumericFeature
from atelier.errors import ConfigError
from atelier.features.normalize import fit_preprocessor
from atelier.features.transforms import BuildWindow, build_features
from atelier.model.preprocessor import OOV, Preprocessor

WINDOW = BuildWindow(dt.date(2013, 7, 1), dt.date(2013, 7, 31))


def test_cyclic_holiday_and_typed_features(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [
            ("k1", dt.date(2013, 7, 4), 0.0, "EWR", 10),
            ("k2", dt.date(2013, 7, 6), 6.0, "JFK", 20),
            ("k3", dt.date(2013, 8, 20), 23.99, "LGA", 30),
        ],
        "id string, d date, h double, origin string, n int",
    )
    features = [
        NumericFeature(name="hour", expr="h", cyclic=24),
        NumericFeature(name="days_to_holiday", builtin="holiday_distance", args={"column": "d", "cap_days": 10}),
        CategoricalFeature(name="origin", type="categorical"),
        NumericFeature(name="n2", expr="n * 2"),
    ]
    out = {r.id: r for r in build_features(df, features, ["id", "d"], WINDOW).collect()}
    assert out["k1"].hour_sin == pytest.approx(0.0) and out["k1"].hour_cos == pytest.approx(1.0)
    assert out["k2"].hour_sin == pytest.approx(1.0)
    assert math.hypot(out["k3"].hour_sin - 0.0, out["k3"].hour_cos - 1.0) < 0.01  # 23:59 sits next to 00:00
    assert out["k1"].days_to_holiday == 0.0  # Independence Day
    assert out["k2"].days_to_holiday == 2.0
    assert out["k3"].days_to_holiday == 10.0  # capped (Labor Day is 2 weeks later)
    assert out["k1"].n2 == 20.0 and isinstance(out["k1"].origin, str)


def test_unknown_builtin_is_a_config_error(spark: SparkSession) -> None:
    df = spark.createDataFrame([("k",)], "id string")
    with pytest.raises(ConfigError, match="unknown builtin 'moon_phase'"):
        build_features(df, [NumericFeature(name="m", builtin="moon_phase")], ["id"], WINDOW)


def test_preprocessor_fits_on_train_and_maps_unseen_categories_to_oov(spark: SparkSession) -> None:
    train = spark.createDataFrame([(1.0, "EWR"), (3.0, "EWR"), (None, "JFK"), (5.0, None)], "x double, origin string")
    pre = fit_preprocessor(train, ["x"], ["origin"])
    assert pre.numeric["x"] == pytest.approx((3.0, math.sqrt(8 / 3)))
    assert pre.vocab["origin"] == [OOV, "EWR", "JFK"]  # most frequent first; nulls are not a category
    num, cat = pre.transform(pd.DataFrame({"x": [3.0, None, 5.0], "origin": ["JFK", "SFO", None]}))
    assert num[:, 0].tolist() == pytest.approx([0.0, 0.0, 2.0 / math.sqrt(8 / 3)])
    assert cat[:, 0].tolist() == [2, 0, 0]  # unseen and null go to the OOV bucket
    assert Preprocessor.from_dict(pre.to_dict()) == pre
