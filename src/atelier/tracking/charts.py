"""PNG charts for the training record: evaluation curves, training dynamics, feature histograms.

pyplot is not thread-safe (parallel sweep trials failed in its mathtext parser): every chart is drawn
under one lock.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn import metrics as skm  # noqa: E402

Series = dict[str, list[tuple[int, float]]]
F = TypeVar("F", bound=Callable)
_DRAWING = threading.Lock()


def one_at_a_time(draw: F) -> F:
    @functools.wraps(draw)
    def locked(*args, **kwargs):
        with _DRAWING:
            return draw(*args, **kwargs)

    return locked  # type: ignore[return-value]


def save_figure(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


@one_at_a_time
def binary_charts(label: np.ndarray, score: np.ndarray, threshold: float, folder: Path) -> list[Path]:
    """ROC, precision-recall, confusion matrix at the threshold, and the calibration curve."""
    paths = []
    fpr, tpr, _ = skm.roc_curve(label, score)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, label=f"AUC {skm.auc(fpr, tpr):.3f}")
    ax.plot([0, 1], [0, 1], "--", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test)")
    ax.legend()
    paths.append(save_figure(fig, folder / "roc.png"))
    precision, recall, _ = skm.precision_recall_curve(label, score)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(recall, precision, label=f"AP {skm.average_precision_score(label, score):.3f}")
    ax.axhline(label.mean(), ls="--", color="grey", label="base rate")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (test)")
    ax.legend()
    paths.append(save_figure(fig, folder / "precision_recall.png"))
    matrix = skm.confusion_matrix(label, (score >= threshold).astype(int), labels=[0, 1])
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, str(v), ha="center", va="center")
    ax.set(
        xticks=[0, 1],
        yticks=[0, 1],
        xlabel="predicted",
        ylabel="actual",
        title=f"Confusion matrix (threshold {threshold})",
    )
    paths.append(save_figure(fig, folder / "confusion_matrix.png"))
    bins = np.linspace(0, 1, 11)
    which = np.clip(np.digitize(score, bins) - 1, 0, 9)
    present = [b for b in range(10) if (which == b).any()]
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([score[which == b].mean() for b in present], [label[which == b].mean() for b in present], "o-")
    ax.plot([0, 1], [0, 1], "--", color="grey")
    ax.set(xlabel="mean predicted probability", ylabel="observed rate", title="Calibration (test)")
    paths.append(save_figure(fig, folder / "calibration.png"))
    return paths


@one_at_a_time
def regression_charts(label: np.ndarray, score: np.ndarray, folder: Path) -> list[Path]:
    """Residuals against predictions, and predicted against actual."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    axes[0].scatter(score, label - score, s=2, alpha=0.3)
    axes[0].axhline(0, color="grey")
    axes[0].set(xlabel="predicted", ylabel="residual (actual - predicted)", title="Residuals (test)")
    axes[1].scatter(label, score, s=2, alpha=0.3)
    lo, hi = float(min(label.min(), score.min())), float(max(label.max(), score.max()))
    axes[1].plot([lo, hi], [lo, hi], "--", color="grey")
    axes[1].set(xlabel="actual", ylabel="predicted", title="Predicted vs actual (test)")
    return [save_figure(fig, folder / "residuals.png")]


@one_at_a_time
def dynamics_charts(series: Series, folder: Path) -> list[Path]:
    """Loss and validation metrics over time, and one panel per dynamics statistic (a line per layer)."""
    paths = []
    curves = {k: v for k, v in series.items() if not k.startswith("dynamics/")}
    fig, axes = plt.subplots(1, len(curves), figsize=(4 * len(curves), 3.5), squeeze=False)
    for ax, (name, points) in zip(axes[0], sorted(curves.items())):
        ax.plot(*zip(*points), marker="." if len(points) < 30 else None)
        ax.set(title=name, xlabel="step" if name == "train_loss" else "epoch")
    paths.append(save_figure(fig, folder / "training_curves.png"))
    stats = sorted({k.rsplit("/", 1)[1] for k in series if k.startswith("dynamics/")})
    if stats:
        cols = 3
        fig, axes = plt.subplots(
            math.ceil(len(stats) / cols), cols, figsize=(15, 3.3 * math.ceil(len(stats) / cols)), squeeze=False
        )
        for ax, stat in zip(axes.flat, stats):
            for key, points in sorted(series.items()):
                if key.startswith("dynamics/") and key.endswith("/" + stat):
                    ax.plot(*zip(*points), label=key.split("/")[1])
            ax.set(title=stat, xlabel="step", yscale="symlog" if "var" in stat or "ratio" in stat else "linear")
            ax.legend(fontsize=6)
        for ax in list(axes.flat)[len(stats) :]:
            ax.axis("off")
        paths.append(save_figure(fig, folder / "layer_dynamics.png"))
    return paths


@one_at_a_time
def importance_chart(importance: dict[str, float], metric: str, path: Path) -> Path:
    names = list(importance)[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.25 * len(names) + 1.2))
    ax.barh(names, [importance[n] for n in names])
    ax.set(xlabel=f"drop in validation {metric} when shuffled", title="Permutation importance")
    return save_figure(fig, path)


@one_at_a_time
def histograms_chart(profile: dict, path: Path) -> Path:
    """A small histogram per feature of the reference profile (bins for numerics, top categories)."""
    features = list(profile["features"].items())
    cols = 4
    rows = math.ceil(len(features) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(16, 2.6 * rows), squeeze=False)
    for ax, (name, feat) in zip(axes.flat, features):
        ax.bar(range(len(feat["bins"])), feat["shares"])
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
    for ax in list(axes.flat)[len(features) :]:
        ax.axis("off")
    return save_figure(fig, path)


@one_at_a_time
def graph_chart(nodes: list[tuple[str, str, list[str]]], path: Path) -> Path:
    """The network's computational graph (torch.fx nodes: name, operation, inputs) as boxes and arrows."""
    height = max(4.0, 0.42 * len(nodes))
    fig, ax = plt.subplots(figsize=(9, height))
    position = {name: (0.5, 1 - (i + 0.5) / len(nodes)) for i, (name, _, _) in enumerate(nodes)}
    for name, op, inputs in nodes:
        x, y = position[name]
        ax.text(
            x,
            y,
            f"{name}\n{op}",
            ha="center",
            va="center",
            fontsize=7,
            bbox={"boxstyle": "round", "fc": "#e8f0fe", "ec": "#4a6fa5"},
        )
        for src in inputs:
            if src in position:
                sx, sy = position[src]
                ax.annotate(
                    "",
                    xy=(x, y + 0.4 / len(nodes)),
                    xytext=(sx, sy - 0.4 / len(nodes)),
                    arrowprops={"arrowstyle": "->", "color": "#888", "connectionstyle": "arc3,rad=0.3"},
                )
    ax.axis("off")
    ax.set_title("Computational graph (torch.fx)")
    return save_figure(fig, path)
