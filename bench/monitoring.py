"""Benchmark monitoring against scoring on the same days, in one run.

For one day and for the Oct-Dec 2013 window: the score job (champion arm, into ml.predictions), then
reconcile (ml.live_metrics) and drift (ml.feature_drift), each timed in this process on one
SparkSession after one warm-up run of each (JVM start-up excluded from all); the three jobs run in
turn `--repeats` times and each one's median is reported (a run that also writes a Delta checkpoint,
every 10th commit of a table, is slower). Goal of the
monitoring issue: reconcile + drift cost less than scoring. Needs the example's feature and outcomes tables and a champion
(`make demo`); it rewrites those dates of the prediction and monitoring tables (idempotent jobs).

    .venv/bin/python bench/monitoring.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time

from atelier.config.loader import load_platform, load_use_case
from atelier.monitoring.drift import drift
from atelier.monitoring.reconcile import reconcile
from atelier.runtime import setup_logging
from atelier.scoring.batch import score_dates
from atelier.spark.session import build_session
from atelier.spark.tables import Lake

WINDOWS = {
    "one day": (dt.date(2013, 10, 15), dt.date(2013, 10, 15)),
    "Oct-Dec": (dt.date(2013, 10, 1), dt.date(2013, 12, 31)),
}


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    setup_logging("WARNING")
    platform = load_platform(overrides=["spark.master=local[2]"])
    use_case = load_use_case(
        "flights_delay",
        overrides=[
            "scoring.arms=[{name: champion, role: champion, alias: champion}]",
            "scoring.prediction_log_percent=0",
        ],
    )
    lake = Lake(build_session(platform, app_name="atelier-bench-monitoring"), platform)
    for job in (score_dates, reconcile, drift):  # warm-up of each: Python workers, model load, JIT
        job(lake, use_case, *WINDOWS["one day"])
    print(f"{'window':<9} {'score s':>8} {'reconcile s':>12} {'drift s':>8} {'monitoring/scoring':>19}")
    for name, (start, end) in WINDOWS.items():
        runs = [
            [timed(lambda: job(lake, use_case, start, end)) for job in (score_dates, reconcile, drift)]
            for _ in range(args.repeats)
        ]
        score, rec, dri = (statistics.median(times) for times in zip(*runs))
        print(f"{name:<9} {score:>8.1f} {rec:>12.1f} {dri:>8.1f} {(rec + dri) / score:>18.2f}x  (goal < 1)")


if __name__ == "__main__":
    main()
