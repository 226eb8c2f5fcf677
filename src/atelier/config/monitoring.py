"""Monitoring of the served model: reconciliation with outcomes, drift, alerts and retrain requests."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from atelier.config.common import StrictModel, TableName

AlertKind = Literal["feature_psi", "score_psi", "live_metric", "label_completeness", "no_predictions"]


def _kinds(*kinds: AlertKind) -> list[AlertKind]:
    """A default list of alert kinds (a bare list literal in a lambda is typed list[str])."""
    return list(kinds)


class AlertConfig(StrictModel):
    """When monitoring raises an alert (each check can be switched off with `enabled`)."""

    enabled: list[AlertKind] = Field(
        default_factory=lambda: _kinds(
            "feature_psi", "score_psi", "live_metric", "label_completeness", "no_predictions"
        )
    )
    feature_psi: float = Field(0.2, gt=0)  # PSI above this on one of the most important features
    important_features: int = Field(10, ge=1)  # how many of the champion's most important features count
    score_psi: float = Field(0.2, gt=0)  # PSI of the served score distribution against the test window's
    # The champion's live AUC below its test AUC by more than `metric_drop` (regression: live RMSE
    # above the test RMSE by more than that fraction) on its last `metric_drop_days` reconciled days.
    metric_drop: float = Field(0.05, ge=0)
    metric_drop_days: int = Field(3, ge=1)
    min_label_completeness: float = Field(0.8, ge=0, le=1)  # share of scored rows with a matured outcome


class MonitoringConfig(StrictModel):
    """Reconciliation, drift and alerts.

    An outcome counts for a prediction scored on D if it arrived (its `outcome_date`) by D +
    `maturity_days`; later ones are counted as late and left out, so a date's figures settle once
    the window has passed. A breach writes `alerts_table`, may POST to `webhook_uri` (off when
    unset) and, for the kinds in `retrain_on`, records a request in `retrain_requests_table`.
    """

    maturity_days: int = Field(2, ge=0)
    # Drift of date D compares the rows of the `drift_window_days` ending on D with the reference: one
    # day of a daily-seasonal feature (the weekday, the day's weather) never looks like months of it.
    drift_window_days: int = Field(7, ge=1)
    live_metrics_table: TableName = "ml.live_metrics"
    drift_table: TableName = "ml.feature_drift"
    alerts_table: TableName = "ml.alerts"
    retrain_requests_table: TableName = "ml.retrain_requests"
    alerts: AlertConfig = Field(default_factory=AlertConfig)
    retrain_on: list[AlertKind] = Field(default_factory=lambda: _kinds("feature_psi", "live_metric"))
    webhook_uri: str | None = None
    webhook_timeout_s: float = Field(5.0, gt=0)
