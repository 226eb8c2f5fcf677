"""Held-out and live metrics, bootstrap intervals and permutation importance, on numpy arrays."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn import metrics as skm

LOWER_IS_BETTER = {"log_loss", "calibration_error", "brier", "rmse", "mae"}


def binary_metrics(label: np.ndarray, score: np.ndarray, threshold: float, bins: int = 10) -> dict[str, float]:
    """AUC, PR AUC, log loss, accuracy, precision and recall at the threshold, expected calibration error."""
    predicted = (score >= threshold).astype(int)
    clipped = np.clip(score, 1e-7, 1 - 1e-7)
    return {
        "auc": float(skm.roc_auc_score(label, score)),
        "pr_auc": float(skm.average_precision_score(label, score)),
        "log_loss": float(skm.log_loss(label, clipped, labels=[0, 1])),
        "accuracy": float(skm.accuracy_score(label, predicted)),
        "precision": float(skm.precision_score(label, predicted, zero_division=0)),
        "recall": float(skm.recall_score(label, predicted, zero_division=0)),
        "calibration_error": expected_calibration_error(label, score, bins),
        "brier": float(np.mean((score - label) ** 2)),
        "positive_rate": float(label.mean()),
        "predicted_positive_rate": float(predicted.mean()),
    }


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
    return {
        "rmse": float(np.sqrt(skm.mean_squared_error(label, score))),
        "mae": float(skm.mean_absolute_error(label, score)),
        "r2": float(skm.r2_score(label, score)),
        "bias": float(np.mean(score - label)),
    }


def task_metrics(task: str, label: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, float]:
    return binary_metrics(label, score, threshold) if task == "binary" else regression_metrics(label, score)


def defined_metrics(task: str, label: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, float]:
    """`task_metrics` where they are defined: {} without rows, and no AUC/log loss with one class only."""
    if len(label) == 0:
        return {}
    if task == "binary" and len(np.unique(label)) < 2:
        predicted = (score >= threshold).astype(int)
        return {"accuracy": float((predicted == label).mean()), "brier": float(np.mean((score - label) ** 2)),
                "positive_rate": float(label.mean()), "predicted_positive_rate": float(predicted.mean())}
    return task_metrics(task, label, score, threshold)


def daily_headline(task: str, label: np.ndarray, score: np.ndarray, days: np.ndarray, threshold: float) -> float | None:
    """The headline metric of each day, averaged over the days (where defined): the figure a day of live
    data is comparable with. Pooled over several days, AUC also counts the gaps between days."""
    metric, _ = headline(task)
    found = [defined_metrics(task, label[days == d], score[days == d], threshold).get(metric) for d in np.unique(days)]
    found = [v for v in found if v is not None]
    return float(np.mean(found)) if found else None


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
    base = task_metrics(task, label, score_fn(numeric, categorical), 0.5)[metric]
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
            value = task_metrics(task, label, score_fn(num, cat), 0.5)[metric]
            drops.append(base - value if higher else value - base)
        result[name] = float(np.mean(drops))
    return dict(sorted(result.items(), key=lambda kv: -kv[1]))
