"""The bootstrap of the promotion gate and the A/B read-out: one metric per resample vs the whole set.

    .venv/bin/python bench/bootstrap.py [ROWS]

Both competitors draw the same resamples (same seed) of synthetic scored rows; the intervals must be
equal. Prints each one's time and the ratio.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from atelier.model.metrics import bootstrap_gain, metric_value, task_metrics

SAMPLES, CONFIDENCE, SEED = 200, 0.95, 7


def rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.3).astype(np.float64)
    new = np.clip(0.3 + 0.2 * (label - 0.3) + rng.normal(0, 0.2, n), 0, 1)
    old = np.clip(0.3 + 0.15 * (label - 0.3) + rng.normal(0, 0.2, n), 0, 1)
    return label, new, old


def main(n: int) -> None:
    label, new, old = rows(n, SEED)
    results = {}
    for name, value in (
        ("whole set, then pick", lambda y, s, m: task_metrics("binary", y, s, 0.5)[m]),
        ("one metric", lambda y, s, m: metric_value("binary", m, y, s, 0.5)),
    ):
        start = time.perf_counter()
        intervals = [
            bootstrap_gain(
                lambda y, s, m=m: value(y, s, m),
                (label, new),
                (label, old),
                True,
                SAMPLES,
                CONFIDENCE,
                SEED,
                -1.0 if m == "log_loss" else 1.0,
            )
            for m in ("auc", "log_loss")
        ]
        results[name] = (time.perf_counter() - start, intervals)
        print(f"{name:<22} {results[name][0]:7.2f} s  auc {intervals[0]}", flush=True)
    (slow, a), (fast, b) = results.values()
    assert np.allclose(a, b), "the intervals differ"
    print(f"one metric is {slow / fast:.1f}x faster ({n} paired rows, {SAMPLES} resamples, auc + log_loss)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 80_000)
