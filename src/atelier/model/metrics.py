"""Held-out and live metrics, bootstrap intervals and permutation importance, on numpy arrays."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn import metrics as skm

LOWER_IS_BETTER = {"log_loss", "calibration_error", "brier", "rmse", "mae"}


Metric = Callable[[np.ndarray, np.ndarray, float], float]  # (label, score, threshold) -> value


def _predicted(score: np.ndarray, threshold: float) -> np.ndarray:
    return (score >= threshold).astype(int)


BINARY: dict[str, Metric] = {
    "auc": lambda y, s, t: skm.roc_auc_score(y, s),
    "pr_auc": lambda y, s, t: skm.average_precision_score(y, s),
    "log_loss": lambda y, s, t: skm.log_loss(y, np.clip(s, 1e-7, 1 - 1e-7), labels=[0, 1]),
    "accuracy": lambda y, s, t: skm.accuracy_score(y, _predicted(s, t)),
    "precision": lambda y, s, t: skm.precision_score(y, _predicted(s, t), zero_division=0),
    "recall": lambda y, s, t: skm.recall_score(y, _predicted(s, t), zero_division=0),
    "calibration_error": lambda y, s, t: expected_calibration_error(y, s),
    "brier": lambda y, s, t: np.mean((s - y) ** 2),
    "positive_rate": lambda y, s, t: y.mean(),
    "predicted_positive_rate": lambda y, s, t: _predicted(s, t).mean(),
}
ONE_CLASS = {"accuracy", "brier", "positive_rate", "predicted_positive_rate"}  # defined with one label only
REGRESSION: dict[str, Metric] = {
    "rmse": lambda y, s, t: np.sqrt(skm.mean_squared_error(y, s)),
    "mae": lambda y, s, t: skm.mean_absolute_error(y, s),
    "r2": lambda y, s, t: skm.r2_score(y, s),
    "bias": lambda y, s, t: np.mean(s - y),
}


def binary_metrics(label: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, float]:
    """AUC, PR AUC, log loss, accuracy, precision and recall at the threshold, expected calibration error, ..."""
    return {name: float(f(label, score, threshold)) for name, f in BINARY.items()}


def expected_calibration_error(label: np.ndarray, score: np.ndarray, bins: int = 10) -> float:
    """Mean |observed rate - mean score| over equal-width score bins, weighted by the bins' rows."""
    which = np.minimum((score * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(label[mask].mean() - score[mask].mean())
    return float(total / len(label))


def regression_metrics(label: np.ndarray, score: np.ndarray) -> dict[str, float]:
    return {name: float(f(label, score, 0.0)) for name, f in REGRESSION.items()}


def task_metrics(task: str, label: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, float]:
    return binary_metrics(label, score, threshold) if task == "binary" else regression_metrics(label, score)


def metric_names(task: str) -> list[str]:
    return list(BINARY if task == "binary" else REGRESSION)


def metric_value(task: str, name: str, label: np.ndarray, score: np.ndarray, threshold: float) -> float:
    """One metric of the task, computed alone (a bootstrap resample needs one, not the whole set)."""
    table = BINARY if task == "binary" else REGRESSION
    if name not in table:
        raise KeyError(f"'{name}' is not a {task} metric ({sorted(table)})")
    return float(table[name](label, score, threshold))


def defined_metric(task: str, name: str, label: np.ndarray, score: np.ndarray, threshold: float) -> float | None:
    """`metric_value` where it is defined: None without rows, or for a two-class metric on one class only."""
    if len(label) == 0 or (task == "binary" and name not in ONE_CLASS and len(np.unique(label)) < 2):
        return None
    return metric_value(task, name, label, score, threshold)


def defined_metrics(task: str, label: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, float]:
    """`task_metrics` where they are defined: {} without rows, and no AUC/log loss with one class only."""
    found = {name: defined_metric(task, name, label, score, threshold) for name in metric_names(task)}
    return {name: value for name, value in found.items() if value is not None}


def daily_headline(task: str, label: np.ndarray, score: np.ndarray, days: np.ndarray, threshold: float) -> float | None:
    """The headline metric of each day, averaged over the days (where defined): the figure a day of live
    data is comparable with. Pooled over several days, AUC also counts the gaps between days."""
    metric, _ = headline(task)
    found = [defined_metric(task, metric, label[days == d], score[days == d], threshold) for d in np.unique(days)]
    defined = [v for v in found if v is not None]
    return float(np.mean(defined)) if defined else None


def bootstrap_gain(
    metric: Callable[[np.ndarray, np.ndarray], float],
    new: tuple[np.ndarray, np.ndarray],
    old: tuple[np.ndarray, np.ndarray],
    paired: bool,
    samples: int,
    confidence: float,
    seed: int,
    sign: float = 1.0,
) -> tuple[float, float, float]:
    """`sign * (metric(new) - metric(old))` and its bootstrap confidence interval.

    `new` and `old` are (label, score) pairs. Paired: the same rows scored by two models, resampled
    together; unpaired: two groups of rows (an A/B split), each resampled on its own.
    """
    gain = sign * (metric(*new) - metric(*old))
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(samples):
        i = rng.integers(0, len(new[0]), len(new[0]))
        j = i if paired else rng.integers(0, len(old[0]), len(old[0]))
        draws.append(sign * (metric(new[0][i], new[1][i]) - metric(old[0][j], old[1][j])))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(draws, [alpha, 1 - alpha])
    return float(gain), float(low), float(high)


def headline(task: str) -> tuple[str, bool]:
    """The metric that ranks models for a task, and whether higher is better."""
    return ("auc", True) if task == "binary" else ("rmse", False)


def permutation_importance(
    score_fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
    numeric: np.ndarray,
    categorical: np.ndarray,
    label: np.ndarray,
    names: list[str],
    task: str,
    repeats: int = 1,
    seed: int = 13,
) -> dict[str, float]:
    """How much the headline metric worsens when one feature column is shuffled (mean over repeats).

    `names` are the numeric then the categorical column names, in the arrays' order.
    """
    metric, higher = headline(task)
    base = metric_value(task, metric, label, score_fn(numeric, categorical), 0.5)
    rng = np.random.default_rng(seed)
    result = {}
    k = numeric.shape[1]
    for j, name in enumerate(names):
        drops = []
        for _ in range(repeats):
            num, cat = numeric.copy(), categorical.copy()
            target = num if j < k else cat
            col = j if j < k else j - k
            target[:, col] = target[rng.permutation(len(target)), col]
            value = metric_value(task, metric, label, score_fn(num, cat), 0.5)
            drops.append(base - value if higher else value - base)
        result[name] = float(np.mean(drops))
    return dict(sorted(result.items(), key=lambda kv: -kv[1]))
