"""Batch scoring with a champion, a challenger on a share and a shadow, into ml.predictions."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F
from tests.integration.conftest import scoring_use_case

from atelier.scoring.batch import ScoringError, score_dates
from atelier.spark.tables import Lake

pytestmark = pytest.mark.integration
DAY = dt.date(2013, 7, 3)


def test_every_arm_scores_every_row_and_one_arm_serves_each(spark, training_lake, arms) -> None:
    lake, uc = training_lake, scoring_use_case(arms)
    report = score_dates(Lake(spark, lake), uc, DAY, DAY)
    flights = Lake(spark, lake).read(uc.tables.features).filter(F.col("flight_date") == DAY).count()
    assert report.rows == {"champion": flights, "challenger": flights, "shadow_linear": flights}
    predictions = Lake(spark, lake).read("ml.predictions").filter(F.col("score_date") == DAY)
    served = predictions.filter("served").groupBy("flight_id").count()
    assert served.count() == flights and served.filter("count <> 1").count() == 0
    share = predictions.filter("served AND arm = 'challenger'").count() / flights
    assert 0.14 < share < 0.26, share
    assert predictions.filter("arm = 'shadow_linear' AND served").count() == 0
    row = predictions.filter("arm = 'challenger'").first()
    assert row.model_version == arms["challenger"] and row.features_version >= 0 and 0 <= row.score <= 1

    # The prediction log: about 10% of the served predictions, with their feature vectors.
    logged = Lake(spark, lake).read("ml.prediction_log").filter(F.col("score_date") == DAY)
    assert 0.05 < logged.count() / flights < 0.15
    assert '"distance"' in logged.first().features

    # A rerun replaces the date and assigns every flight to the same arm.
    before = {(r.flight_id, r.arm) for r in predictions.filter("served").collect()}
    score_dates(Lake(spark, lake), uc, DAY, DAY)
    again = Lake(spark, lake).read("ml.predictions").filter(F.col("score_date") == DAY)
    assert again.count() == 3 * flights
    assert {(r.flight_id, r.arm) for r in again.filter("served").collect()} == before


def test_a_date_without_features_is_refused_and_nothing_written(spark, training_lake, arms) -> None:
    uc = scoring_use_case(arms)
    version = (
        Lake(spark, training_lake).version("ml.predictions")
        if Lake(spark, training_lake).exists("ml.predictions")
        else None
    )
    with pytest.raises(ScoringError, match=r"has no rows for 2013-08-01: run the features job first"):
        score_dates(Lake(spark, training_lake), uc, dt.date(2013, 8, 1), dt.date(2013, 8, 1))
    if version is not None:
        assert Lake(spark, training_lake).version("ml.predictions") == version


def test_a_renamed_feature_column_is_named_and_nothing_written(spark, training_lake, arms) -> None:
    uc = scoring_use_case(arms, "tables.features=gold.flight_features_renamed")
    renamed = Lake(spark, training_lake).read("gold.flight_features").withColumnRenamed("distance", "distance_km")
    Lake(spark, training_lake).replace(renamed, "gold.flight_features_renamed")
    with pytest.raises(ScoringError, match=r"needs columns \['distance'\] that gold.flight_features_renamed"):
        score_dates(Lake(spark, training_lake), uc, DAY, DAY)


def test_an_arm_whose_alias_is_unassigned_sits_out_and_the_champion_serves(spark, training_lake, arms) -> None:
    unassigned = (
        "scoring.arms=[{name: champion, role: champion, alias: champion},"
        " {name: challenger, role: challenger, alias: not_yet, share: 0.2}]"
    )
    uc = scoring_use_case(
        arms, unassigned, "scoring.predictions_table=ml.predictions_one_arm", "scoring.prediction_log_percent=0"
    )
    report = score_dates(Lake(spark, training_lake), uc, DAY, DAY)
    assert list(report.rows) == ["champion"]
    predictions = Lake(spark, training_lake).read("ml.predictions_one_arm")
    assert predictions.filter("NOT served OR arm <> 'champion'").count() == 0
    assert predictions.count() == report.rows["champion"] > 500


def test_without_a_champion_nothing_is_scored(spark, training_lake, arms) -> None:
    uc = scoring_use_case(arms, "scoring.arms=[{name: champion, role: champion, alias: nobody}]")
    with pytest.raises(ScoringError, match=r"arm 'champion': model flights_delay_arms has no alias 'nobody'"):
        score_dates(Lake(spark, training_lake), uc, DAY, DAY)


def test_the_jvm_engine_scores_like_the_python_engine(spark, training_lake, arms) -> None:
    """Every arm through ONNX Runtime in the executors gives the Python workers' scores, labels and served flags,
    on rows with null numbers, null categories and categories never seen in training."""
    odd = (
        Lake(spark, training_lake)
        .read("gold.flight_features")
        .filter(F.col("flight_date") == DAY)
        .withColumn(
            "carrier", F.expr("CASE pmod(hash(flight_id), 3) WHEN 0 THEN NULL WHEN 1 THEN 'ZZ' ELSE carrier END")
        )
        .withColumn("distance", F.expr("IF(pmod(hash(flight_id), 5) = 0, NULL, distance)"))
    )
    Lake(spark, training_lake).replace(odd, "gold.flight_features_odd")
    scored = {}
    for engine in ("python", "jvm"):
        uc = scoring_use_case(
            arms,
            "tables.features=gold.flight_features_odd",
            f"scoring.engine={engine}",
            f"scoring.predictions_table=ml.predictions_{engine}",
            "scoring.prediction_log_percent=0",
        )
        report = score_dates(Lake(spark, training_lake), uc, DAY, DAY)
        assert report.rows == {"champion": odd.count(), "challenger": odd.count(), "shadow_linear": odd.count()}
        written = Lake(spark, training_lake).read(uc.scoring.predictions_table).collect()
        scored[engine] = {(r.flight_id, r.arm): r for r in written}
    assert scored["jvm"].keys() == scored["python"].keys()
    for key, ours in scored["jvm"].items():
        theirs = scored["python"][key]
        assert abs(ours.score - theirs.score) <= 1e-5, (key, ours.score, theirs.score)
        assert ours.served == theirs.served and ours.model_version == theirs.model_version
        if abs(ours.score - ours.threshold) > 1e-5:
            assert ours.predicted_label == theirs.predicted_label, key
