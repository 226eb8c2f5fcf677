"""Held-out metrics and permutation importance, on numpy arrays (driver side)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn import metrics as skm


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
    }


def task_metrics(task: str, label: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, float]:
    return binary_metrics(label, score, threshold) if task == "binary" else regression_metrics(label, score)


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
