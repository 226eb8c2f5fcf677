"""Alerts and the retraining trigger, judged on the monitoring tables for a range of dates.

Checks (each can be switched off in `monitoring.alerts.enabled`): a date with no predictions; PSI
above the threshold on one of the champion's most important features, or on its score
distribution; the champion's live headline metric worse than its test figure (the mean of its test days' one-day figures,
so a live day is judged against a comparable day) by more than the
margin on its last N reconciled days; label completeness below the minimum. Alerts replace the
range's rows of `ml.alerts`, are logged, and are POSTed to `monitoring.webhook_uri` when one is set.
Alerts of the kinds in `monitoring.retrain_on` record a pending request per date in
`ml.retrain_requests` for the orchestrator's retraining DAG.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.request
import uuid
from dataclasses import asdict, astuple, dataclass, field

from pyspark.sql import functions as F
from pyspark.sql import types as T

from atelier.catalog import (
    ALERT_DATE,
    ALERTS,
    IMPORTANCE_RANK,
    KIND,
    POPULATION,
    PSI,
    REQUEST_DATE,
    RETRAIN_REQUESTS,
    ROLE,
    SCORE_DATE,
    THRESHOLD,
)
from atelier.config.monitoring import AlertKind
from atelier.config.use_case import UseCaseConfig
from atelier.monitoring.drift import SCORE
from atelier.monitoring.reference import load_reference
from atelier.spark.tables import Lake
from atelier.tracking import store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    alert_date: dt.date
    kind: str
    subject: str  # the feature, arm or table concerned
    value: float | None
    threshold: float | None
    message: str


@dataclass
class AlertReport:
    run_id: str
    alerts: list[Alert] = field(default_factory=list)
    retrain_reasons: dict[dt.date, list[str]] = field(default_factory=dict)  # "kind:subject" per request date
    notified: bool | None = None  # None: no webhook configured

    @property
    def retrain_dates(self) -> list[dt.date]:
        return sorted(self.retrain_reasons)


def evaluate(lake: Lake, use_case: UseCaseConfig, start: dt.date, end: dt.date) -> list[Alert]:
    """Every enabled check over [start, end], in date order."""
    enabled = set(use_case.monitoring.alerts.enabled)
    found: list[Alert] = []
    if "no_predictions" in enabled:
        found += _no_predictions(lake, use_case, start, end)
    if enabled & {"feature_psi", "score_psi"}:
        found += _drift(lake, use_case, start, end, enabled)
    if enabled & {"live_metric", "label_completeness"}:
        found += _live(lake, use_case, start, end, enabled)
    return sorted(found, key=lambda a: (a.alert_date, a.kind, a.subject))


def raise_alerts(lake: Lake, use_case: UseCaseConfig, start: dt.date, end: dt.date) -> AlertReport:
    """Evaluate, then replace the range's alerts and retraining requests, log and notify."""
    cfg = use_case.monitoring
    report = AlertReport(run_id=uuid.uuid4().hex, alerts=evaluate(lake, use_case, start, end))
    for alert in report.alerts:
        log.warning("ALERT %s %s %s: %s", alert.alert_date, alert.kind, alert.subject, alert.message)
    if cfg.webhook_uri and report.alerts:
        report.notified = _notify(cfg.webhook_uri, cfg.webhook_timeout_s, use_case.name, report.alerts)
    meta = {"job": "monitor", "run_id": report.run_id, "use_case": use_case.name}
    rows = [
        (*astuple(a), use_case.name, a.kind in cfg.retrain_on, report.notified, report.run_id) for a in report.alerts
    ]
    frame = (
        lake.spark.createDataFrame(rows, _ALERTS)
        .withColumn("raised_at", F.current_timestamp())
        .select(*ALERTS.columns)  # the contract's columns, in its order
    )
    lake.replace_dates(frame, cfg.alerts_table, ALERT_DATE, start, end, meta)
    reasons = report.retrain_reasons
    for alert in report.alerts:
        if alert.kind in cfg.retrain_on:
            reasons.setdefault(alert.alert_date, []).append(f"{alert.kind}:{alert.subject}")
    requests = lake.spark.createDataFrame(
        [(d, use_case.name, r, "pending", report.run_id) for d, r in sorted(reasons.items())], _REQUESTS
    ).withColumn("requested_at", F.current_timestamp())
    lake.replace_dates(
        requests.select(*RETRAIN_REQUESTS.columns), cfg.retrain_requests_table, REQUEST_DATE, start, end, meta
    )
    for day in report.retrain_dates:
        log.warning("retraining requested for %s on %s: %s", use_case.name, day, ", ".join(reasons[day]))
    return report


def _no_predictions(lake: Lake, use_case: UseCaseConfig, start: dt.date, end: dt.date) -> list[Alert]:
    name = use_case.scoring.predictions_table
    scored = set()
    if lake.exists(name):
        scored = {
            r[0]
            for r in lake.read(name)
            .filter(F.col(SCORE_DATE).between(F.lit(start), F.lit(end)))
            .select(SCORE_DATE)
            .distinct()
            .collect()
        }
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    return [
        Alert(d, "no_predictions", name, 0.0, None, f"no predictions in {name} for {d}")
        for d in days
        if d not in scored
    ]


def _drift(lake: Lake, use_case: UseCaseConfig, start: dt.date, end: dt.date, enabled: set[AlertKind]) -> list[Alert]:
    cfg, name = use_case.monitoring.alerts, use_case.monitoring.drift_table
    if not lake.exists(name):
        return []
    rows = lake.read(name).filter(F.col(SCORE_DATE).between(F.lit(start), F.lit(end)))
    found = []
    if "feature_psi" in enabled:
        for r in rows.filter(
            (F.col(KIND) != SCORE) & (F.col(IMPORTANCE_RANK) <= cfg.important_features) & (F.col(PSI) > cfg.feature_psi)
        ).collect():
            found.append(
                Alert(
                    r[SCORE_DATE],
                    "feature_psi",
                    r.feature,
                    r.psi,
                    cfg.feature_psi,
                    f"feature {r.feature} (importance rank {r.importance_rank}) drifted from the training "
                    f"window of {r.model_name} version {r.model_version}: PSI {r.psi:.3f} > {cfg.feature_psi}",
                )
            )
    if "score_psi" in enabled:
        for r in rows.filter((F.col(KIND) == SCORE) & (F.col(PSI) > cfg.score_psi)).collect():
            found.append(
                Alert(
                    r[SCORE_DATE],
                    "score_psi",
                    SCORE,
                    r.psi,
                    cfg.score_psi,
                    f"the scores of {r.model_name} version {r.model_version} drifted from its test window: "
                    f"PSI {r.psi:.3f} > {cfg.score_psi}",
                )
            )
    return found


def _live(lake: Lake, use_case: UseCaseConfig, start: dt.date, end: dt.date, enabled: set[AlertKind]) -> list[Alert]:
    cfg, name = use_case.monitoring.alerts, use_case.monitoring.live_metrics_table
    if not lake.exists(name):
        return []
    binary = use_case.label.task == "binary"
    metric = "auc" if binary else "rmse"
    champion = (
        lake.read(name)
        .filter((F.col(ROLE) == "champion") & (F.col(POPULATION) == "all") & (F.col(SCORE_DATE) <= end))
        .orderBy(SCORE_DATE)
        .collect()
    )
    found = []
    if "label_completeness" in enabled:
        for r in champion:
            if r[SCORE_DATE] >= start and r.label_completeness < cfg.min_label_completeness:
                found.append(
                    Alert(
                        r[SCORE_DATE],
                        "label_completeness",
                        r.arm,
                        r.label_completeness,
                        cfg.min_label_completeness,
                        f"only {r.label_completeness:.1%} of {r.rows_scored} predictions have a matured "
                        f"outcome (minimum {cfg.min_label_completeness:.0%})",
                    )
                )
    if "live_metric" not in enabled:
        return found
    store.use_platform(lake.platform)
    judged = [r for r in champion if r[metric] is not None]
    for i, r in enumerate(judged):
        if r[SCORE_DATE] < start or i + 1 < cfg.metric_drop_days:
            continue
        window = judged[i + 1 - cfg.metric_drop_days : i + 1]
        tested = load_reference(use_case.model_name, r.model_version).test_metrics
        trained = tested.get(f"daily_{metric}", tested.get(metric))  # one test day's figure, like a live day's
        if trained is None:
            continue
        worse = [(trained - w[metric]) if binary else (w[metric] - trained) / trained for w in window]
        if all(x > cfg.metric_drop for x in worse):
            found.append(
                Alert(
                    r[SCORE_DATE],
                    "live_metric",
                    r.arm,
                    r[metric],
                    trained,
                    f"live {metric} of {r.model_name} version {r.model_version} was "
                    f"{', '.join(f'{w[metric]:.3f}' for w in window)} on its last {len(window)} reconciled "
                    f"days, worse than its test {metric} {trained:.3f} (a day's mean) by more than {cfg.metric_drop}",
                )
            )
    return found


def _notify(uri: str, timeout: float, use_case: str, alerts: list[Alert]) -> bool:
    """POST the alerts as JSON; a failure is logged, never raised (the alerts are in the table)."""
    if not uri.startswith(("http://", "https://")):
        log.error("monitoring.webhook_uri must be an http(s) URL; not notified")
        return False
    body = json.dumps({"use_case": use_case, "alerts": [asdict(a) for a in alerts]}, default=str).encode()
    request = urllib.request.Request(uri, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (scheme checked above)
            return 200 <= response.status < 300
    except OSError as err:
        log.error("webhook %s failed: %s; the alerts are in the alerts table", uri.split("?")[0], err)
        return False


_ALERTS = T.StructType(
    [
        T.StructField(ALERT_DATE, T.DateType()),
        T.StructField(KIND, T.StringType()),
        T.StructField("subject", T.StringType()),
        T.StructField("value", T.DoubleType()),
        T.StructField(THRESHOLD, T.DoubleType()),
        T.StructField("message", T.StringType()),
        T.StructField("use_case", T.StringType()),
        T.StructField("retrain", T.BooleanType()),
        T.StructField("notified", T.BooleanType()),
        T.StructField("monitor_run_id", T.StringType()),
    ]
)
_REQUESTS = T.StructType(
    [
        T.StructField(REQUEST_DATE, T.DateType()),
        T.StructField("use_case", T.StringType()),
        T.StructField("reasons", T.ArrayType(T.StringType())),
        T.StructField("status", T.StringType()),
        T.StructField("monitor_run_id", T.StringType()),
    ]
)
