"""The promotion gate: a candidate version against the champion on the same held-out rows.

Both models score the same labeled rows (the candidate's test days at its pinned data versions,
or `promotion.window`); for each metric in `promotion.margins` the gain (candidate better by) and
its paired bootstrap confidence interval are computed. `champion` moves only if every gain meets
its margin; otherwise the refusal says which metric fell short and by how much. The comparison is
an MLflow run (`atelier.kind=promotion`), the evidence every alias move in ml.registry_events names.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import dataclass, field

import mlflow
import numpy as np
import pandas as pd

from atelier.config.common import DateRange
from atelier.config.platform import PlatformConfig
from atelier.config.use_case import UseCaseConfig
from atelier.model.metrics import LOWER_IS_BETTER, bootstrap_gain, metric_value
from atelier.spark.tables import Lake
from atelier.tracking import registry, store
from atelier.tracking.record import input_versions
from atelier.tracking.registry import RegistryError, RegistryEvent
from atelier.training.dataset import LABEL, labeled_frame

log = logging.getLogger(__name__)


class PromotionRefused(RegistryError):
    """The candidate did not beat the champion by the configured margins (`comparison` holds the evidence)."""

    def __init__(self, message: str, comparison: Comparison) -> None:
        super().__init__(message)
        self.comparison = comparison


@dataclass
class Gain:
    candidate: float
    champion: float | None
    gain: float | None  # how much better the candidate is (positive = better)
    ci_low: float | None
    ci_high: float | None
    margin: float

    @property
    def passed(self) -> bool:
        return self.gain is None or self.gain >= self.margin


@dataclass
class Comparison:
    model: str
    candidate: str
    champion: str | None
    window: DateRange
    rows: int
    gains: dict[str, Gain] = field(default_factory=dict)
    evidence_run_id: str = ""

    @property
    def wins(self) -> bool:
        return all(g.passed for g in self.gains.values())

    def shortfalls(self) -> list[str]:
        return [
            f"{m}: gain {g.gain:+.4f} (95% CI {g.ci_low:+.4f}..{g.ci_high:+.4f}) is below the margin {g.margin:+.4f}"
            for m, g in self.gains.items()
            if not g.passed
        ]


def held_out(lake: Lake, use_case: UseCaseConfig, version: str) -> tuple[DateRange, dict[str, int]]:
    """The evaluation window and table versions: `promotion.window` on current data, else the version's test days."""
    if use_case.promotion.window:
        names = [use_case.tables.features, use_case.tables.outcomes]
        return use_case.promotion.window, {n: lake.version(n) for n in names}
    client = mlflow.MlflowClient()
    run_id = client.get_model_version(use_case.model_name, version).run_id
    if run_id is None:
        raise RegistryError(
            f"{use_case.model_name} version {version} has no training run to read its test days from "
            "(set promotion.window)"
        )
    run = client.get_run(run_id)
    start, end = run.data.params["data.test_dates"].split("..")
    window = DateRange(start=dt.date.fromisoformat(start), end=dt.date.fromisoformat(end))
    return window, input_versions(run.data.tags)


def score(model: str, version: str, rows: pd.DataFrame) -> np.ndarray:
    """A registered version's scores for `rows` (it picks the columns of its own signature)."""
    loaded = mlflow.pyfunc.load_model(f"models:/{model}/{version}")
    columns = loaded.metadata.get_input_schema().input_names()
    missing = sorted(set(columns) - set(rows.columns))
    if missing:
        raise RegistryError(f"{model} version {version} needs columns {missing} that the feature table lacks")
    return loaded.predict(rows[columns])["score"].to_numpy(dtype=np.float64)


def compare(lake: Lake, use_case: UseCaseConfig, candidate: str) -> Comparison:
    """Candidate vs the current champion on the held-out rows, with paired bootstrap intervals."""
    model, cfg = use_case.model_name, use_case.promotion
    registry.check_version(model, candidate)
    champion = registry.alias_version(model, "champion")
    window, versions = held_out(lake, use_case, candidate)
    rows: pd.DataFrame = labeled_frame(lake, use_case, versions, window).toPandas()
    if rows.empty:
        raise RegistryError(f"no labeled rows to compare on in {window.start}..{window.end} (versions {versions})")
    label = rows[LABEL].to_numpy(dtype=np.float64)
    threshold = use_case.training.threshold
    new = score(model, candidate, rows)
    old = score(model, champion, rows) if champion else None
    result = Comparison(model=model, candidate=candidate, champion=champion, window=window, rows=len(rows))
    for metric, margin in cfg.margins.items():
        sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
        value = _metric(use_case, label, new, threshold, metric)
        if old is None:
            result.gains[metric] = Gain(value, None, None, None, None, margin)
            continue
        on_metric = functools.partial(_metric, use_case, threshold=threshold, name=metric)
        gain, low, high = bootstrap_gain(
            on_metric, (label, new), (label, old), True, cfg.bootstrap_samples, cfg.confidence, cfg.seed, sign
        )
        result.gains[metric] = Gain(value, value - sign * gain, gain, low, high, margin)
    result.evidence_run_id = _log_evidence(lake.platform, use_case, result)
    return result


def _metric(use_case: UseCaseConfig, label: np.ndarray, score_: np.ndarray, threshold: float, name: str) -> float:
    try:
        return metric_value(use_case.label.task, name, label, score_, threshold)
    except KeyError as exc:
        raise RegistryError(f"promotion.margins: {exc.args[0]}") from None


def _log_evidence(platform: PlatformConfig, use_case: UseCaseConfig, c: Comparison) -> str:
    store.experiment(platform, use_case.name)
    with mlflow.start_run(
        run_name=f"promote-v{c.candidate}",
        nested=mlflow.active_run() is not None,
        tags={
            "atelier.kind": "promotion",
            "atelier.use_case": use_case.name,
            "candidate_version": c.candidate,
            "champion_version": c.champion or "",
            "decision": "wins" if c.wins else "refused",
        },
    ) as run:
        mlflow.log_params(
            {
                "window": f"{c.window.start}..{c.window.end}",
                "rows": c.rows,
                "bootstrap_samples": use_case.promotion.bootstrap_samples,
                "confidence": use_case.promotion.confidence,
            }
        )
        for metric, g in c.gains.items():
            mlflow.log_metric(f"candidate_{metric}", g.candidate)
            if g.gain is not None:
                compared = {
                    f"champion_{metric}": g.champion,
                    f"gain_{metric}": g.gain,
                    f"gain_{metric}_ci_low": g.ci_low,
                    f"gain_{metric}_ci_high": g.ci_high,
                }
                mlflow.log_metrics({k: v for k, v in compared.items() if v is not None})  # all set with a gain
        mlflow.log_dict(
            {
                "candidate": c.candidate,
                "champion": c.champion,
                "rows": c.rows,
                "window": [str(c.window.start), str(c.window.end)],
                "gains": {m: vars(g) | {"passed": g.passed} for m, g in c.gains.items()},
            },
            "promotion/report.json",
        )
        return run.info.run_id


def promote(
    lake: Lake, use_case: UseCaseConfig, version: str, force: bool = False, reason: str = ""
) -> tuple[RegistryEvent, Comparison]:
    """Move `champion` to `version` if it wins the gate (or `force` with a reason); else PromotionRefused."""
    if force and not reason.strip():
        raise RegistryError('--force needs --reason "...": a forced promotion must say why')
    comparison = compare(lake, use_case, version)
    if comparison.champion == str(version):
        raise RegistryError(f"{use_case.model_name} version {version} is already the champion")
    if not comparison.wins and not force:
        raise PromotionRefused(
            f"{use_case.model_name} version {version} does not beat champion version {comparison.champion} on "
            f"{comparison.rows} held-out rows ({comparison.window.start}..{comparison.window.end}): "
            + "; ".join(comparison.shortfalls())
            + f". Evidence: MLflow run {comparison.evidence_run_id}",
            comparison,
        )
    action = "force" if force and not comparison.wins else "promote"
    why = reason or ("first champion" if comparison.champion is None else "won the promotion gate")
    event = registry.move_alias(
        lake, use_case.model_name, "champion", str(version), action, why, comparison.evidence_run_id
    )
    return event, comparison


def rollback(lake: Lake, use_case: UseCaseConfig, reason: str = "") -> RegistryEvent:
    """Move `champion` back to the version it pointed at before its latest move."""
    model = use_case.model_name
    moves = registry.history(lake, model, "champion")
    if not moves or not moves[0]["from_version"]:
        raise RegistryError(f"{model}: no earlier champion to roll back to (moves recorded: {len(moves)})")
    return registry.move_alias(
        lake,
        model,
        "champion",
        moves[0]["from_version"],
        "rollback",
        reason or f"rollback from version {moves[0]['to_version']}",
    )
