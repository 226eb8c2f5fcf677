"""The promotion gate and the registry's audit log, with real registered models."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession
from tests.integration.conftest import training_use_case

from atelier.config.platform import PlatformConfig
from atelier.promotion.gate import PromotionRefused, promote, rollback
from atelier.spark.tables import Lake
from atelier.tracking import registry
from atelier.tracking.registry import RegistryError
from atelier.training.job import train

pytestmark = pytest.mark.integration

# A planted worse model: it sees only the aircraft's age and engines.
WEAK = (
    "training.exclude_features=[carrier, origin, dest, route, plane_manufacturer, distance, sched_block_minutes,"
    " dep_hour, weekday, day_of_year, days_to_holiday, plane_seats, wx_temp, wx_dewp, wx_humid, wx_wind_speed,"
    " wx_wind_gust, wx_precip, wx_pressure, wx_visib, wx_age_minutes]"
)


def test_the_gate_promotes_refuses_a_worse_model_forces_and_rolls_back(
    spark: SparkSession, training_lake: PlatformConfig
) -> None:
    lake = training_lake
    uc = training_use_case("training.backend=local")
    good = train(Lake(spark, lake), uc)
    weak = train(Lake(spark, lake), training_use_case("training.backend=local", WEAK))
    model = uc.model_name

    first, comparison = promote(Lake(spark, lake), uc, good.model_version)
    assert comparison.champion is None and first.from_version is None and first.action == "promote"
    assert registry.alias_version(model, "champion") == good.model_version

    with pytest.raises(
        PromotionRefused,
        match=rf"version {weak.model_version} does not beat champion version "
        rf"{good.model_version} .*auc: gain -0\.\d+ \(95% CI",
    ):
        promote(Lake(spark, lake), uc, weak.model_version)
    assert registry.alias_version(model, "champion") == good.model_version

    with pytest.raises(RegistryError, match="--force needs --reason"):
        promote(Lake(spark, lake), uc, weak.model_version, force=True)
    forced, _ = promote(Lake(spark, lake), uc, weak.model_version, force=True, reason="drill: forced on purpose")
    assert forced.action == "force" and registry.alias_version(model, "champion") == weak.model_version

    back = rollback(Lake(spark, lake), uc, "drill over")
    assert (back.from_version, back.to_version) == (weak.model_version, good.model_version)
    assert registry.alias_version(model, "champion") == good.model_version

    events = (
        Lake(spark, lake)
        .read(registry.events_table(lake))
        .filter(f"model = '{model}' AND alias = 'champion'")
        .orderBy("at")
        .collect()
    )
    assert [(e.action, e.from_version, e.to_version) for e in events][-3:] == [
        ("promote", None, good.model_version),
        ("force", good.model_version, weak.model_version),
        ("rollback", weak.model_version, good.model_version),
    ]
    assert all(e.user and e.reason for e in events) and events[-2].evidence_run_id
    assert "drill: forced on purpose" == events[-2].reason


def test_promoting_a_version_that_does_not_exist_names_the_versions(spark, training_lake) -> None:
    known = r"(versions \d|no versions \(train one first)"
    with pytest.raises(RegistryError, match=rf"model flights_delay has no version 999; it has {known}"):
        promote(Lake(spark, training_lake), training_use_case(), "999")
