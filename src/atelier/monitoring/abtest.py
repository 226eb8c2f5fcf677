"""The A/B read-out: challenger vs champion on the rows each served, shadows vs the champion on all rows.

Over a window of reconciled dates: each arm's metrics on its labelled rows; the challenger's gain
over the champion on the rows each served (two disjoint groups drawn by the hash split, so an
unpaired bootstrap), and every other arm's gain over the champion on all rows (the same rows scored
by both, so a paired bootstrap). Gains are positive when the arm is better, with the promotion
gate's bootstrap settings; `atelier ab-report` prints them and writes an HTML page.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pyspark.sql import functions as F

from atelier.catalog import ARM, MODEL_VERSION, ROLE, SCORE, SCORE_DATE, SERVED, THRESHOLD
from atelier.config.use_case import UseCaseConfig
from atelier.errors import AtelierError
from atelier.model.metrics import LOWER_IS_BETTER, bootstrap_gain, defined_metric, defined_metrics
from atelier.monitoring.reconcile import LABEL, labelled_predictions
from atelier.spark.tables import Lake


@dataclass(frozen=True)
class Contrast:
    arm: str
    version: str
    population: str  # served (unpaired, vs the champion's served rows) | all (paired, same rows)
    rows: int
    champion_rows: int
    metric: str
    value: float
    champion_value: float
    gain: float
    ci_low: float
    ci_high: float


@dataclass
class ABReport:
    start: dt.date
    end: dt.date
    champion: str
    confidence: float
    arms: dict[str, dict[str, float]] = field(default_factory=dict)  # "arm (population)" -> metrics
    contrasts: list[Contrast] = field(default_factory=list)


def ab_readout(lake: Lake, use_case: UseCaseConfig, start: dt.date, end: dt.date) -> ABReport:
    """Per-arm metrics and gains over the champion, with bootstrap intervals, for [start, end]."""
    key = use_case.entity.key
    joined = labelled_predictions(lake, use_case, start, end)
    rows: pd.DataFrame = (
        joined.filter(F.col(LABEL).isNotNull())
        .select(key, SCORE_DATE, ARM, ROLE, MODEL_VERSION, SERVED, SCORE, LABEL, THRESHOLD)
        .toPandas()
    )
    if rows.empty:
        raise AtelierError(f"no labelled predictions in {start}..{end}: score, let outcomes arrive, then reconcile")
    champion = rows[rows.role == "champion"]
    cfg, task = use_case.promotion, use_case.label.task
    report = ABReport(start=start, end=end, champion=str(champion.arm.iloc[0]), confidence=cfg.confidence)
    metrics = list(cfg.margins)
    for arm, group in rows.groupby(ARM, sort=True):
        for population, part in (("all", group), ("served", group[group.served])):
            if len(part):
                report.arms[f"{arm} ({population})"] = {
                    "rows": len(part),
                    **defined_metrics(
                        task,
                        part[LABEL].to_numpy(np.float64),
                        part.score.to_numpy(np.float64),
                        float(part.threshold.iloc[0]),
                    ),
                }
    for arm, group in rows[rows.role != "champion"].groupby(ARM, sort=True):
        pairs = [("all", group, champion, True)]
        if (group.role == "challenger").all():
            pairs.insert(0, ("served", group[group.served], champion[champion.served], False))
        for population, mine, theirs, paired in pairs:
            if paired:
                both = mine.merge(theirs, on=[key, SCORE_DATE], suffixes=("", "_champion"))
                mine = both
                theirs = both[[f"{LABEL}_champion", f"{SCORE}_champion", f"{THRESHOLD}_champion"]].set_axis(
                    [LABEL, SCORE, THRESHOLD], axis=1
                )
            report.contrasts += _contrasts(
                arm, str(group.model_version.iloc[0]), population, mine, theirs, paired, metrics, use_case
            )
    return report


def _contrasts(
    arm: str,
    version: str,
    population: str,
    mine: pd.DataFrame,
    theirs: pd.DataFrame,
    paired: bool,
    metrics: list[str],
    use_case: UseCaseConfig,
) -> list[Contrast]:
    cfg, task = use_case.promotion, use_case.label.task
    threshold = float(mine.threshold.iloc[0])
    new = (mine[LABEL].to_numpy(np.float64), mine.score.to_numpy(np.float64))
    old = (theirs[LABEL].to_numpy(np.float64), theirs.score.to_numpy(np.float64))
    out = []
    for metric in metrics:

        def value(label: np.ndarray, score: np.ndarray, m: str = metric) -> float:
            found = defined_metric(task, m, label, score, threshold)
            return float("nan") if found is None else found

        sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
        gain, low, high = bootstrap_gain(value, new, old, paired, cfg.bootstrap_samples, cfg.confidence, cfg.seed, sign)
        out.append(
            Contrast(
                arm, version, population, len(mine), len(theirs), metric, value(*new), value(*old), gain, low, high
            )
        )
    return out


def format_report(report: ABReport) -> str:
    lines = [
        f"A/B read-out {report.start}..{report.end} (champion arm: {report.champion})",
        f"{'arm':<14} {'population':<10} {'metric':<10} {'value':>8} {'champion':>9} {'gain':>8}  {report.confidence:.0%} CI",
    ]
    for c in report.contrasts:
        lines.append(
            f"{c.arm:<14} {c.population:<10} {c.metric:<10} {c.value:>8.4f} {c.champion_value:>9.4f} "
            f"{c.gain:>+8.4f}  {c.ci_low:+.4f}..{c.ci_high:+.4f}  (rows {c.rows} vs {c.champion_rows})"
        )
    return "\n".join(lines)


def write_html(report: ABReport, folder: Path) -> Path:
    """The read-out as an HTML page (and JSON beside it) under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"ab-{report.start}_{report.end}"
    (folder / f"{stem}.json").write_text(json.dumps(asdict(report), default=str, indent=1))
    arms = "".join(
        f"<tr><th>{html.escape(name)}</th>"
        + "".join(f"<td>{k} {v:.4f}</td>" if isinstance(v, float) else f"<td>{k} {v}</td>" for k, v in m.items())
        + "</tr>"
        for name, m in report.arms.items()
    )
    contrasts = "".join(
        f"<tr><td>{html.escape(c.arm)} v{c.version}</td><td>{c.population}</td><td>{c.metric}</td><td>{c.value:.4f}</td>"
        f"<td>{c.champion_value:.4f}</td><td>{c.gain:+.4f}</td><td>{c.ci_low:+.4f} .. {c.ci_high:+.4f}</td>"
        f"<td>{c.rows} vs {c.champion_rows}</td></tr>"
        for c in report.contrasts
    )
    page = (
        f"<!doctype html><meta charset=utf-8><title>A/B {report.start}..{report.end}</title>"
        f"<h1>A/B read-out {report.start} .. {report.end}</h1><p>Champion arm: {html.escape(report.champion)}. "
        "Served: each arm on the rows it served (unpaired bootstrap). All: the same rows scored by both "
        "(paired bootstrap). Gain &gt; 0: better than the champion.</p>"
        "<h2>Gains over the champion</h2><table border=1 cellpadding=4><tr><th>arm</th><th>population</th>"
        f"<th>metric</th><th>value</th><th>champion</th><th>gain</th><th>{report.confidence:.0%} CI</th><th>rows</th></tr>"
        f"{contrasts}</table><h2>Per arm</h2><table border=1 cellpadding=4>{arms}</table>"
    )
    path = folder / f"{stem}.html"
    path.write_text(page)
    return path
