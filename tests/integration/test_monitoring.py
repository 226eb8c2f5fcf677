"""Reconciliation, live metrics, drift, alerts, the A/B read-out and the monitoring report, on real scored days."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import mlflow
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from sklearn.metrics import roc_auc_score
from tests.integration.conftest import scoring_use_case

from atelier.config.platform import PlatformConfig
from atelier.config.use_case import UseCaseConfig
from atelier.monitoring.abtest import ab_readout, write_html
from atelier.monitoring.alerts import raise_alerts
from atelier.monitoring.drift import drift, feature_drift
from atelier.monitoring.reconcile import ReconcileError, reconcile
from atelier.monitoring.reference import load_reference
from atelier.monitoring.report import write_report
from atelier.scoring.batch import score_dates
from atelier.spark.tables import Lake
from atelier.tracking import registry, store

pytestmark = pytest.mark.integration
FIRST, LAST = dt.date(2013, 7, 3), dt.date(2013, 7, 5)  # the models' test days; outcomes arrive a day later


@pytest.fixture(scope="module")
def scored(spark: SparkSession, training_lake: PlatformConfig, arms: dict[str, str]) -> UseCaseConfig:
    uc = scoring_use_case(arms, "monitoring.drift_window_days=1")
    store.use_platform(training_lake)
    score_dates(Lake(spark, training_lake), uc, FIRST, LAST)
    return uc


def _live(spark, lake, uc, day, arm="champion", population="all"):
    return (
        Lake(spark, lake)
        .read(uc.monitoring.live_metrics_table)
        .filter((F.col("score_date") == day) & (F.col("arm") == arm) & (F.col("population") == population))
        .collect()
    )


def test_live_metrics_per_date_arm_and_population_match_an_independent_computation(spark, training_lake, scored):
    lake, uc = training_lake, scored
    report = reconcile(Lake(spark, lake), uc, FIRST, LAST)
    assert {(r["score_date"], r["arm"]) for r in report.rows} == {
        (FIRST + dt.timedelta(days=i), a) for i in range(3) for a in ("champion", "challenger", "shadow_linear")
    }
    live = Lake(spark, lake).read(uc.monitoring.live_metrics_table)
    assert live.filter("arm = 'shadow_linear' AND population = 'served'").count() == 0  # shadows never serve
    served = live.filter(f"score_date = DATE'{FIRST}' AND population = 'served'").collect()
    flights = Lake(spark, lake).read(uc.tables.features).filter(F.col("flight_date") == FIRST).count()
    assert sum(r.rows_scored for r in served) == flights  # champion + challenger served rows split the day

    # The champion's AUC on July 3, recomputed here from the raw tables.
    predictions = (
        Lake(spark, lake).read("ml.predictions").filter((F.col("score_date") == FIRST) & (F.col("arm") == "champion"))
    )
    outcomes = Lake(spark, lake).read("ml.outcomes").select("flight_id", "arr_delay")
    rows = predictions.join(outcomes, "flight_id").filter("arr_delay IS NOT NULL").toPandas()
    row = _live(spark, lake, uc, FIRST)[0]
    assert row.rows_scored == flights and row.rows_labelled == len(rows)
    assert row.auc == pytest.approx(roc_auc_score(rows.arr_delay >= 15, rows.score), abs=1e-9)
    assert 0.9 < row.label_completeness <= 1 and row.outcomes_late == 0 and row.outcomes_duplicate == 0
    assert row.brier > 0 and 0 <= row.calibration_error <= 1 and row.predictions_version >= 0


def test_bad_outcomes_are_counted_and_late_outcomes_update_a_rerun(spark, training_lake, scored):
    lake, uc = training_lake, scored
    path = Lake(spark, lake).path(uc.tables.outcomes)
    before = Lake(spark, lake).version(uc.tables.outcomes)
    outcomes = Lake(spark, lake).read(uc.tables.outcomes)
    day = dt.date(2013, 7, 4)
    try:
        # Outcomes for July 4 have not arrived yet: predictions without any outcome.
        spark.sql(f"DELETE FROM delta.`{path}` WHERE flight_date = DATE'{day}'")
        reconcile(Lake(spark, lake), uc, day, day)
        empty = _live(spark, lake, uc, day)[0]
        assert empty.rows_labelled == 0 and empty.label_completeness == 0 and empty.auc is None
        spark.sql(f"RESTORE TABLE delta.`{path}` TO VERSION AS OF {before}")

        # They arrive, with three kinds of bad rows: an entity never scored, a duplicate, one too late.
        sample = outcomes.filter(F.col("flight_date") == day).orderBy("flight_id").limit(2).collect()
        bad = spark.createDataFrame(
            [
                {**sample[0].asDict(), "flight_id": "never-scored"},
                {**sample[0].asDict(), "outcome_date": day + dt.timedelta(days=2), "arr_delay": 999.0},
                {**sample[1].asDict(), "outcome_date": day + dt.timedelta(days=uc.monitoring.maturity_days + 3)},
            ],
            outcomes.schema,
        )
        bad.write.format("delta").mode("append").save(str(path))
        reconcile(Lake(spark, lake), uc, day, day)
        full = _live(spark, lake, uc, day)[0]
        assert (full.outcomes_unscored, full.outcomes_duplicate, full.outcomes_late) == (1, 1, 1)
        assert full.label_completeness > 0.9 and full.auc is not None and full.computed_at > empty.computed_at
        assert full.outcomes_version > empty.outcomes_version
    finally:
        spark.sql(f"RESTORE TABLE delta.`{path}` TO VERSION AS OF {before}")
    with pytest.raises(ReconcileError, match="no predictions for 2013-08-01..2013-08-01: run the score job first"):
        reconcile(Lake(spark, lake), uc, dt.date(2013, 8, 1), dt.date(2013, 8, 1))


def test_a_planted_shift_is_detected_and_unshifted_days_raise_no_false_alarm(spark, training_lake, scored):
    lake, uc = training_lake, scored
    reference = load_reference(uc.model_name, registry.alias_version(uc.model_name, "champion"))
    features = [f for f in uc.model_columns() if f in reference.features]
    train = (
        Lake(spark, lake)
        .read(uc.tables.features)
        .filter(F.col("flight_date").between(F.lit(dt.date(2013, 6, 20)), F.lit(dt.date(2013, 6, 29))))
    )
    # Ten synthetic days drawn from the training window itself (no shift), 900 rows each.
    days = train.sample(True, 1.0, seed=5).withColumn(
        "day", F.date_add(F.lit(dt.date(2013, 8, 1)), (F.rand(7) * 10).cast("int"))
    )
    unshifted = feature_drift(days, "day", reference.features, features)
    judged = [d for drifts in unshifted.values() for d in drifts]
    false_alarms = [d for d in judged if d.psi > uc.monitoring.alerts.feature_psi]
    assert len(unshifted) == 10 and len(judged) == 10 * len(features)
    assert len(false_alarms) / len(judged) == 0, false_alarms  # the false alarm rate on unshifted days

    std = reference.features["wx_temp"]["std"]
    shifted = feature_drift(
        days.withColumn("wx_temp", F.col("wx_temp") + 2 * std).withColumn("origin", F.lit("JFK")),
        "day",
        reference.features,
        features,
    )
    for drifts in shifted.values():
        by = {d.feature: d for d in drifts}
        assert by["wx_temp"].psi > 1.0 and by["wx_temp"].ks > 0.5
        assert by["origin"].psi > 0.2 and by["origin"].chi2_p < 1e-6
        assert max(d.psi for d in drifts if d.feature not in ("wx_temp", "origin")) < uc.monitoring.alerts.feature_psi

    # The job on the real scored days: one row per date and feature, plus the score distribution.
    drift(Lake(spark, lake), uc, FIRST, LAST)
    table = Lake(spark, lake).read(uc.monitoring.drift_table)
    assert table.filter("kind = 'score'").count() == 3
    assert table.filter("kind <> 'score'").count() == 3 * len(features)


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        _Hook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_a_model_scoring_noise_raises_the_live_metric_alert_requests_retraining_and_calls_the_webhook(
    spark, training_lake, scored
):
    lake = training_lake
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monitoring = scored.monitoring.model_copy(
        update={
            **{
                t: getattr(scored.monitoring, t) + "_noise"
                for t in ("live_metrics_table", "drift_table", "alerts_table", "retrain_requests_table")
            },
            "alerts": scored.monitoring.alerts.model_copy(update={"metric_drop_days": 2}),
            "webhook_uri": f"http://127.0.0.1:{server.server_port}/hook",
        }
    )
    uc = scored.model_copy(
        update={
            "monitoring": monitoring,
            "scoring": scored.scoring.model_copy(update={"predictions_table": "ml.predictions_noise"}),
        }
    )
    real = Lake(spark, lake).read("ml.predictions").filter(F.col("score_date").between(FIRST, LAST))
    try:
        Lake(spark, lake).replace_dates(real, uc.scoring.predictions_table, "score_date", FIRST, LAST)
        reconcile(Lake(spark, lake), uc, FIRST, LAST)
        healthy = raise_alerts(Lake(spark, lake), uc, FIRST, LAST + dt.timedelta(days=1))
        assert [a.kind for a in healthy.alerts] == ["no_predictions"]  # July 6 was not scored
        assert healthy.alerts[0].alert_date == LAST + dt.timedelta(days=1) and not healthy.retrain_dates

        noise = real.withColumn("score", F.when(F.col("role") == "champion", F.rand(11)).otherwise(F.col("score")))
        Lake(spark, lake).replace_dates(noise, uc.scoring.predictions_table, "score_date", FIRST, LAST)
        reconcile(Lake(spark, lake), uc, FIRST, LAST)
        report = raise_alerts(Lake(spark, lake), uc, FIRST, LAST)
        again = raise_alerts(Lake(spark, lake), uc, FIRST, LAST)  # a rerun replaces, never adds
    finally:
        server.shutdown()
    live = [a for a in report.alerts if a.kind == "live_metric"]
    assert [a.alert_date for a in live] == [FIRST + dt.timedelta(days=1), LAST], report.alerts
    assert live[0].subject == "champion"
    assert (
        "worse than its test auc" in live[0].message
        and live[0].threshold > 0.6
        and report.retrain_dates == [a.alert_date for a in live]
    )
    assert report.notified is True and _Hook.received[-1]["alerts"][0]["kind"] == "live_metric"
    alerts = Lake(spark, lake).read(uc.monitoring.alerts_table)
    assert alerts.filter(F.col("alert_date") <= LAST).count() == len(again.alerts) == len(report.alerts)
    assert alerts.filter(F.col("alert_date") > LAST).count() == 1  # July 6's, from the run over its range
    requests = Lake(spark, lake).read(uc.monitoring.retrain_requests_table).collect()
    assert sorted(r.request_date for r in requests) == report.retrain_dates
    assert all(r.status == "pending" and r.reasons == ["live_metric:champion"] for r in requests)


def test_ab_readout_and_monitoring_report(spark, training_lake, scored):
    lake, uc = training_lake, scored
    reconcile(Lake(spark, lake), uc, FIRST, LAST)
    report = ab_readout(Lake(spark, lake), uc, FIRST, LAST)
    pairs = {(c.arm, c.population, c.metric) for c in report.contrasts}
    assert pairs == {
        (a, p, m)
        for a, p in (("challenger", "served"), ("challenger", "all"), ("shadow_linear", "all"))
        for m in uc.promotion.margins
    }
    for c in report.contrasts:
        assert c.ci_low <= c.gain <= c.ci_high
        assert (c.rows == c.champion_rows) == (c.population == "all")  # paired on the same rows
    folder = Path(lake.reports_dir) / uc.name
    assert write_html(report, folder).exists() and (folder / f"ab-{FIRST}_{LAST}.json").exists()

    drift(Lake(spark, lake), uc, FIRST, LAST)
    raise_alerts(Lake(spark, lake), uc, FIRST, LAST)
    page = write_report(Lake(spark, lake), uc, FIRST, LAST)
    assert {p.name for p in page.parent.glob("*.png")} == {
        "live_metrics.png",
        "label_completeness.png",
        "drift_heatmap.png",
        "score_distribution.png",
    }
    assert "Top drifting features" in page.read_text()
    champion = mlflow.MlflowClient().get_model_version(uc.model_name, registry.alias_version(uc.model_name, "champion"))
    logged = {a.path for a in mlflow.MlflowClient().list_artifacts(champion.run_id, "monitoring")}
    assert "monitoring/index.html" in logged and "monitoring/drift_heatmap.png" in logged
