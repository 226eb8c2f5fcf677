"""Benchmark pyspark's stock worker daemon against atelier's (`spark/pyworker.py`), in one run.

pyspark's worker calls `importlib.invalidate_caches()` at the start of every task; on Python 3.10
and 3.11 each zip importer then re-reads its archive (pyspark.zip: a dozen importers). atelier's
daemon keeps an unchanged archive's directory. Each daemon gets its own SparkSession (local[2]), one
after the other in this process; for each: the time per task of 48 tasks that pass 10 rows through
Python, and atelier's score path over the full year of features (as bench/scoring.py, `noop`
sink), best of `--repeats` after a warm-up. Needs the example's feature table and a champion (`make demo`).

    .venv/bin/python bench/python_tasks.py [--repeats 3]
"""

from __future__ import annotations

import argparse

from scoring import best_rate  # bench/scoring.py: best rate of `repeats` runs after a warm-up

from atelier.config.loader import load_platform, load_use_case
from atelier.runtime import setup_logging
from atelier.scoring.batch import resolve_arms, scored_schema, scorer
from atelier.spark.session import build_session
from atelier.spark.tables import Lake

DAEMONS = {"pyspark.daemon (stock)": "pyspark.daemon", "atelier.spark.pyworker": "atelier.spark.pyworker"}
TASKS = 48


def passthrough(batches):
    yield from batches


def measure(daemon: str, repeats: int) -> tuple[float, float]:
    """(ms per task, scoring rows/s) on a session whose Python workers run `daemon`."""
    platform = load_platform(overrides=["spark.master=local[2]"])
    platform.spark.extra_conf["spark.python.daemon.module"] = daemon
    use_case = load_use_case(
        "flights_delay", overrides=["scoring.arms=[{name: champion, role: champion, alias: champion}]"]
    )
    spark = build_session(platform, app_name="atelier-bench-python-tasks")
    try:
        tiny = spark.range(0, TASKS * 10, numPartitions=TASKS)
        tasks_per_s = best_rate(
            TASKS,
            lambda: tiny.mapInArrow(passthrough, tiny.schema).write.format("noop").mode("overwrite").save(),
            repeats,
        )
        arm, key = resolve_arms(platform, use_case)[0], use_case.entity.key
        features = Lake(spark, platform).read(use_case.tables.features).select(key, *arm.columns).cache()
        rows = features.count()
        scoring = best_rate(
            rows,
            lambda: (
                features.mapInArrow(scorer([arm.folder], [key]), scored_schema(features, [key]))
                .write.format("noop")
                .mode("overwrite")
                .save()
            ),
            repeats,
        )
        return spark.sparkContext.defaultParallelism / tasks_per_s * 1000, scoring
    finally:
        spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    setup_logging("WARNING")
    results = {name: measure(module, args.repeats) for name, module in DAEMONS.items()}
    print(f"{'daemon':<26} {'ms per Python task':>19} {'scoring rows/s (full year)':>27}")
    for name, (ms, rate) in results.items():
        print(f"{name:<26} {ms:>19.1f} {rate:>27,.0f}")
    (stock_ms, stock_rate), (ours_ms, ours_rate) = results.values()
    print(
        f"atelier's daemon: {stock_ms / ours_ms:.2f}x less time per task, {ours_rate / stock_rate:.2f}x the scoring rate"
    )


if __name__ == "__main__":
    main()
