"""Benchmark training on the full training window (Jan-Sep 2013) of the example, in one run.

1. Loaders, one epoch over the train split, all feature columns, batch 1024: the arrow loader
   (shuffled), Petastorm's batch reader + BatchedDataLoader (our `petastorm` loader), Petastorm's
   Spark converter `make_torch_dataloader`, and the bare pyarrow read into torch tensors (the limit).
2. Launch overhead and epoch time: `local` (1 process) vs `horovod` and `torch_distributor` (2 each).
3. Model quality: test AUC of the MLP vs scikit-learn's HistGradientBoostingClassifier, same features
   (encoded the same way), same time split.

Needs the example's tables (`make demo`, or collect + features for 2013). Prints ratios.

    .venv/bin/python bench/training.py [--skip-backends] [--epochs 4]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import pyarrow.parquet as pq
import torch

from atelier.config.loader import load_platform, load_use_case
from atelier.model.metrics import binary_metrics
from atelier.model.networks import build_model
from atelier.runtime import setup_logging
from atelier.spark.session import build_session
from atelier.spark.tables import Lake
from atelier.training.backends import train_with
from atelier.training.dataset import build_training_set
from atelier.training.job import predict_batch, worker_spec
from atelier.training.loaders import ArrowLoader, Columns, PetastormLoader, read_all
from atelier.training.loop import load_state

BATCH = 1024


def rows_per_s(batches) -> tuple[float, int]:
    start, rows = time.perf_counter(), 0
    for batch in batches:
        rows += len(batch)
    return rows / (time.perf_counter() - start), rows


def bare(files: list[str], columns: Columns):
    """pyarrow read of every column, to numpy, to torch tensors, sliced into batches: no shuffle, no padding."""
    table = pq.ParquetDataset(files).read(columns=columns.all)
    tensors = [torch.from_numpy(np.ascontiguousarray(table.column(c).to_numpy())) for c in columns.all]
    for start in range(0, table.num_rows, BATCH):
        yield tensors[0][start : start + BATCH]


def converter(spark, files: list[str], columns: Columns, cache: str):
    from petastorm.spark import SparkDatasetConverter, make_spark_converter

    spark.conf.set(SparkDatasetConverter.PARENT_CACHE_DIR_URL_CONF, f"file://{cache}")
    conv = make_spark_converter(spark.read.parquet(*files).select(*columns.all))
    with conv.make_torch_dataloader(batch_size=BATCH, num_epochs=1) as loader:
        for item in loader:
            yield item[columns.all[1]]
    conv.delete()


def bench_loaders(spark, ts, columns: Columns, cache: str) -> None:
    files = ts.files("train")
    results = {
        "bare pyarrow read -> torch (limit)": rows_per_s(bare(files, columns)),
        "arrow loader (shuffled)": rows_per_s(ArrowLoader(files, columns, 0, 1, BATCH, 13).one_pass()),
        "petastorm batch reader + BatchedDataLoader": rows_per_s(
            PetastormLoader(files, columns, 0, 1, BATCH, 13).one_pass()
        ),
        "petastorm make_spark_converter loader": rows_per_s(converter(spark, files, columns, cache)),
    }
    print(
        f"\n1. loaders over the train split ({results['arrow loader (shuffled)'][1]:,} rows, "
        f"{len(columns.all)} columns, batch {BATCH})"
    )
    for name, (rate, rows) in results.items():
        print(f"  {name:<46} {rate:>12,.0f} rows/s  ({rows:,} rows)")
    arrow = results["arrow loader (shuffled)"][0]
    print(
        f"  arrow / petastorm converter = {arrow / results['petastorm make_spark_converter loader'][0]:.1f}x "
        f"(goal >= 20x)"
    )
    print(
        f"  arrow / bare read           = {arrow / results['bare pyarrow read -> torch (limit)'][0]:.2f} (goal >= 0.5)"
    )
    print(
        f"  petastorm batched / converter = "
        f"{results['petastorm batch reader + BatchedDataLoader'][0] / results['petastorm make_spark_converter loader'][0]:.1f}x"
    )


def bench_backends(spark, spec, epochs: int) -> None:
    print(f"\n2. backends, {epochs} epochs (time to first step includes process launch)")
    rows = []
    for backend, procs in (("local", 1), ("horovod", 2), ("torch_distributor", 2)):
        launch = train_with(spark, dataclasses.replace(spec, epochs=epochs), backend, procs)
        t = launch.result.timings
        epoch = np.mean([v for k, v in t.items() if k.startswith("epoch_")])
        rows.append((backend, procs, launch.launch_seconds, epoch, launch.wall_seconds))
        print(
            f"  {backend:<18} x{procs}: first step after {launch.launch_seconds:6.1f} s, epoch {epoch:6.2f} s, "
            f"wall {launch.wall_seconds:6.1f} s"
        )
    local = rows[0]
    for backend, _, first, epoch, wall in rows[1:]:
        print(
            f"  {backend} / local: launch {first / local[2]:.1f}x, epoch {epoch / local[3]:.2f}x, "
            f"wall {wall / local[4]:.2f}x"
        )


def bench_quality(spark, ts, spec, columns: Columns) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    launch = train_with(spark, spec, "local", 1)
    model = load_state(build_model(spec.model), launch.result.state_dict).eval()
    test = read_all(ts.files("test"), columns)
    label = test.label.double().numpy()
    mlp_auc = binary_metrics(label, predict_batch(model, test, spec), 0.5)["auc"]
    train, val = read_all(ts.files("train"), columns), read_all(ts.files("validation"), columns)

    def features(b):
        return np.hstack([b.numeric.numpy(), b.categorical.numpy().astype(np.float32)])

    k = len(columns.numeric)
    mask = [False] * k + [True] * len(columns.categorical)
    start = time.perf_counter()
    hgb = HistGradientBoostingClassifier(
        categorical_features=mask, max_iter=300, early_stopping=True, validation_fraction=None, random_state=13
    )
    hgb.fit(np.vstack([features(train), features(val)]), np.concatenate([train.label.numpy(), val.label.numpy()]))
    hgb_s = time.perf_counter() - start
    hgb_auc = binary_metrics(label, hgb.predict_proba(features(test))[:, 1], 0.5)["auc"]
    print(f"\n3. model quality on the test days ({ts.splits.test.start}..{ts.splits.test.end}, {len(label):,} rows)")
    print(f"  MLP ({spec.epochs} epochs, {launch.wall_seconds:.1f} s)        test AUC {mlp_auc:.4f}")
    print(f"  HistGradientBoosting ({hgb_s:.1f} s)  test AUC {hgb_auc:.4f}")
    print(f"  MLP - HGB = {mlp_auc - hgb_auc:+.4f} (goal >= 0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2, help="epochs for the backend comparison")
    parser.add_argument("--skip-backends", action="store_true")
    args = parser.parse_args()
    setup_logging("WARNING")
    platform = load_platform(overrides=["spark.master=local[2]"])
    use_case = load_use_case("flights_delay")
    spark = build_session(platform, app_name="atelier-bench-training")
    ts = build_training_set(Lake(spark, platform), use_case)
    columns = Columns(ts.numeric, ts.categorical)
    spec = worker_spec(use_case, ts, None)
    print(f"training set {ts.fingerprint}: {ts.rows}")
    bench_loaders(spark, ts, columns, str((ts.root / "converter").resolve()))
    if not args.skip_backends:
        bench_backends(spark, spec, args.epochs)
    bench_quality(spark, ts, spec, columns)


if __name__ == "__main__":
    main()
