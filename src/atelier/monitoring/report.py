"""The monitoring report of a use case: an HTML page with PNG charts under `var/reports/<use case>/monitoring/`.

Live metrics per arm over time, label completeness, a drift heatmap (features x days, PSI), the
champion's score distribution over time, and the alerts; the same folder is logged to MLflow on the
current champion's training run (artifact path `monitoring/`).
"""

from __future__ import annotations

import datetime as dt
import html
import logging
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
from pyspark.sql import functions as F

from atelier.catalog import (
    ALERT_DATE,
    ARM,
    FEATURE,
    IMPORTANCE_RANK,
    KIND,
    LABEL_COMPLETENESS,
    POPULATION,
    PSI,
    ROLE,
    SCORE,
    SCORE_DATE,
)
from atelier.config.platform import PlatformConfig
from atelier.config.use_case import UseCaseConfig
from atelier.spark.tables import Lake
from atelier.tracking import registry, store
from atelier.tracking.charts import save_figure

log = logging.getLogger(__name__)
QUANTILES = [0.1, 0.25, 0.5, 0.75, 0.9]


def write_report(lake: Lake, use_case: UseCaseConfig, start: dt.date, end: dt.date) -> Path:
    """Write the report for [start, end]; the HTML file. Logged to the champion's run when there is one."""
    cfg = use_case.monitoring
    folder = Path(lake.platform.reports_dir) / use_case.name / "monitoring"
    live = _read(lake, cfg.live_metrics_table, SCORE_DATE, start, end)
    drift = _read(lake, cfg.drift_table, SCORE_DATE, start, end)
    alerts = _read(lake, cfg.alerts_table, ALERT_DATE, start, end)
    scores = _score_quantiles(lake, use_case, start, end)
    metric = "auc" if use_case.label.task == "binary" else "rmse"
    charts = [
        c
        for c in (
            _live_chart(live, metric, folder / "live_metrics.png"),
            _completeness_chart(live, folder / "label_completeness.png"),
            _drift_heatmap(drift, folder / "drift_heatmap.png"),
            _score_chart(scores, folder / "score_distribution.png"),
        )
        if c is not None
    ]
    top = drift[drift[KIND] != "score"].sort_values(PSI, ascending=False).head(10) if not drift.empty else drift
    page = (
        f"<!doctype html><meta charset=utf-8><title>{use_case.name} monitoring</title>"
        f"<h1>{html.escape(use_case.name)}: monitoring {start} .. {end}</h1>"
        + "".join(f'<h2>{c.stem.replace("_", " ")}</h2><img src="{c.name}">' for c in charts)
        + "<h2>Top drifting features</h2>"
        + _table(top, [SCORE_DATE, FEATURE, KIND, PSI, "ks", "chi2_p", IMPORTANCE_RANK])
        + "<h2>Alerts</h2>"
        + _table(alerts, [ALERT_DATE, KIND, "subject", "message", "retrain"])
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "index.html"
    path.write_text(page)
    _log_to_champion(lake.platform, use_case, folder)
    return path


def _read(lake: Lake, name: str, column: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    if not lake.exists(name):
        return pd.DataFrame()
    return lake.read(name).filter(F.col(column).between(F.lit(start), F.lit(end))).toPandas()


def _score_quantiles(lake: Lake, use_case: UseCaseConfig, start: dt.date, end: dt.date) -> pd.DataFrame:
    name = use_case.scoring.predictions_table
    if not lake.exists(name):
        return pd.DataFrame()
    return (
        lake.read(name)
        .filter(F.col(SCORE_DATE).between(F.lit(start), F.lit(end)) & (F.col(ROLE) == "champion"))
        .groupBy(SCORE_DATE)
        .agg(F.percentile_approx(SCORE, QUANTILES, 1000).alias("q"))
        .orderBy(SCORE_DATE)
        .toPandas()
    )


def _live_chart(live: pd.DataFrame, metric: str, path: Path) -> Path | None:
    if live.empty or live[metric].isna().all():
        return None
    fig, ax = plt.subplots(figsize=(9, 3.5))
    for (arm, population), group in live.sort_values(SCORE_DATE).groupby([ARM, POPULATION]):
        ax.plot(group[SCORE_DATE], group[metric], "-" if population == "all" else "--", label=f"{arm} ({population})")
    ax.set_ylabel(f"live {metric}")
    ax.legend(fontsize=7)
    fig.autofmt_xdate()
    return save_figure(fig, path)


def _completeness_chart(live: pd.DataFrame, path: Path) -> Path | None:
    champion = live[(live[ROLE] == "champion") & (live[POPULATION] == "all")] if not live.empty else live
    if champion.empty:
        return None
    champion = champion.sort_values(SCORE_DATE)
    fig, ax = plt.subplots(figsize=(9, 2.5))
    ax.bar(champion[SCORE_DATE], champion[LABEL_COMPLETENESS])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("label completeness")
    fig.autofmt_xdate()
    return save_figure(fig, path)


def _drift_heatmap(drift: pd.DataFrame, path: Path) -> Path | None:
    if drift.empty:
        return None
    grid = drift.pivot_table(index=FEATURE, columns=SCORE_DATE, values=PSI, aggfunc="max")
    order = drift.groupby(FEATURE)[IMPORTANCE_RANK].min().sort_values(na_position="last").index
    grid = grid.reindex([f for f in order if f in grid.index])
    fig, ax = plt.subplots(figsize=(10, 0.25 * len(grid) + 1.5))
    image = ax.imshow(grid.to_numpy(dtype=np.float64), aspect="auto", cmap="Reds", vmin=0, vmax=0.5)
    ax.set_yticks(range(len(grid)), grid.index, fontsize=7)
    step = max(1, len(grid.columns) // 12)
    ax.set_xticks(range(0, len(grid.columns), step), [str(d) for d in grid.columns[::step]], fontsize=7, rotation=45)
    fig.colorbar(image, ax=ax, label="PSI (features by importance)")
    return save_figure(fig, path)


def _score_chart(scores: pd.DataFrame, path: Path) -> Path | None:
    if scores.empty:
        return None
    q = np.array(scores.q.tolist(), dtype=np.float64)
    days = scores[SCORE_DATE]
    fig, ax = plt.subplots(figsize=(9, 3))
    ax.fill_between(days, q[:, 0], q[:, 4], alpha=0.2, label="10-90%")
    ax.fill_between(days, q[:, 1], q[:, 3], alpha=0.4, label="25-75%")
    ax.plot(days, q[:, 2], label="median")
    ax.set_ylabel("champion score")
    ax.legend(fontsize=7)
    fig.autofmt_xdate()
    return save_figure(fig, path)


def _table(frame: pd.DataFrame, columns: list[str]) -> str:
    if frame.empty:
        return "<p>none</p>"
    head = "".join(f"<th>{c}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(row[c]))}</td>" for c in columns) + "</tr>"
        for _, row in frame.iterrows()
    )
    return f"<table border=1 cellpadding=3><tr>{head}</tr>{body}</table>"


def _cell(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _log_to_champion(platform: PlatformConfig, use_case: UseCaseConfig, folder: Path) -> None:
    store.use_platform(platform)
    version = registry.alias_version(use_case.model_name, "champion")
    if version is None:
        return
    run_id = mlflow.MlflowClient().get_model_version(use_case.model_name, version).run_id
    if run_id is None:
        log.warning("monitoring report not logged: champion version %s has no run", version)
        return
    mlflow.MlflowClient().log_artifacts(run_id, str(folder), "monitoring")
    log.info("monitoring report logged to run %s (champion version %s)", run_id, version)
