"""Benchmark scoring the full year of features with the champion, in one run:

1. atelier's score paths, as `atelier score` runs them (here with one arm): the `jvm` engine (the
   model as an ONNX graph run by ONNX Runtime in the executor JVMs, batches of a partition's rows)
   and the `python` engine (the model loaded once per executor Python process, `mapInArrow` over
   Arrow batches);
2. `mlflow.pyfunc.spark_udf` with its defaults, on the same model and rows;
3. the bare model in this process: preprocessing + forward over all rows at once, from an Arrow
   table already in memory (the limit);
4. the same `mapInArrow` pass with no model (each batch returned as is, key only): the floor of any
   Python scorer in Spark, moving the rows to a Python worker and back.

Each Spark path writes to Spark's `noop` sink, so the timing is the scoring, not a table write.
Needs the example's feature table and a champion (`make demo`). Prints rows/s and ratios.

    .venv/bin/python bench/scoring.py [--repeats 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import mlflow
import pyarrow as pa
from pyspark.sql import functions as F

from atelier.config.loader import load_platform, load_use_case
from atelier.model.pyfunc import TabularModel
from atelier.runtime import setup_logging
from atelier.scoring import jvm_engine
from atelier.scoring.batch import resolve_arms, scored_schema, scorer
from atelier.spark.session import build_session
from atelier.spark.tables import Lake


def best_rate(rows: int, fn, repeats: int) -> float:
    fn()  # warm-up: JIT, Python workers, model load
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return rows / min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    setup_logging("WARNING")
    platform = load_platform(overrides=["spark.master=local[2]"])
    use_case = load_use_case(
        "flights_delay", overrides=["scoring.arms=[{name: champion, role: champion, alias: champion}]"]
    )
    spark = build_session(platform, app_name="atelier-bench-scoring")
    arm = resolve_arms(platform, use_case)[0]
    key = use_case.entity.key
    features = Lake(spark, platform).read(use_case.tables.features).select(key, *arm.columns).cache()
    rows = features.count()
    print(f"scoring {rows:,} feature rows with {arm.model} version {arm.version} (local[2])")

    jvm = best_rate(
        rows,
        lambda: jvm_engine.score(features, [arm.folder], [key]).write.format("noop").mode("overwrite").save(),
        args.repeats,
    )
    ours = best_rate(
        rows,
        lambda: (
            features.mapInArrow(scorer([arm.folder], [key]), scored_schema(features, [key]))
            .write.format("noop")
            .mode("overwrite")
            .save()
        ),
        args.repeats,
    )
    engines = (
        jvm_engine.score(features, [arm.folder], [key])
        .select(key, F.col("score").alias("jvm"))
        .join(features.mapInArrow(scorer([arm.folder], [key]), scored_schema(features, [key])), key)
    )
    gap = engines.select(F.max(F.abs(F.col("jvm") - F.col("score"))), F.count("*")).first()
    floor = best_rate(
        rows,
        lambda: (
            features.mapInArrow(lambda batches: (b.select([key]) for b in batches), f"{key} string")
            .write.format("noop")
            .mode("overwrite")
            .save()
        ),
        args.repeats,
    )
    udf = mlflow.pyfunc.spark_udf(spark, arm.folder)
    theirs = best_rate(
        rows,
        lambda: (
            features.select(key, udf(F.struct(*arm.columns)).alias("score"))
            .write.format("noop")
            .mode("overwrite")
            .save()
        ),
        args.repeats,
    )
    table = pa.Table.from_pandas(features.toPandas(), preserve_index=False)
    model = TabularModel.from_folder(Path(arm.folder))
    bare = best_rate(rows, lambda: model.score(table), args.repeats)

    print(f"  atelier jvm engine (ONNX Runtime in the executors)       {jvm:>12,.0f} rows/s")
    print(f"  atelier python engine (mapInArrow, model once/process)   {ours:>12,.0f} rows/s")
    print(f"  mlflow.pyfunc.spark_udf, defaults                        {theirs:>12,.0f} rows/s")
    print(f"  bare in-process preprocessing + forward (the limit)      {bare:>12,.0f} rows/s")
    print(f"  mapInArrow with no model (the floor of a Python scorer)  {floor:>12,.0f} rows/s")
    for name, rate in (("jvm", jvm), ("python", ours)):
        print(
            f"  atelier {name} / spark_udf = {rate / theirs:.2f}x (goal >= 2); atelier {name} / bare = "
            f"{rate / bare:.2f} (goal >= 0.5)"
        )
    print(f"  jvm vs python engine: max abs score difference {gap[0]:.2g} over {gap[1]:,} rows")
    print(f"  python floor / bare = {floor / bare:.2f}; atelier python / floor = {ours / floor:.2f}")


if __name__ == "__main__":
    main()
