"""Benchmark the Java library (java/) against the Python model on the same rows, one thread each, in one run.

The champion is exported to ONNX (`atelier export --format onnx`); the full year's feature rows are
scored by:

1. the pyfunc's bare `predict` in this process (preprocessing + forward, torch.set_num_threads(1));
2. ONNX Runtime in Python on the exported graph (one intra-op thread), for reference;
3. the Java library's batch method (`AtelierModel.predictBatch`, one intra-op thread), all rows in
   one call, and its row method (`predict`) on 20,000 rows (java/.../ScoringBenchmark.java).

Best of the repeats after a warm-up; the Java side also reports its largest difference from the
pyfunc's scores. Needs the example's feature table and a champion (`make demo`), Java 17 and Maven.

    .venv/bin/python bench/java_scoring.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import mlflow
import numpy as np
import torch
from scoring import best_rate  # bench/scoring.py, beside this file

from atelier.config.loader import load_platform, load_use_case
from atelier.model.onnx_graph import ort_scores, session
from atelier.model.pyfunc import TabularModel
from atelier.runtime import setup_logging
from atelier.spark.session import build_session
from atelier.spark.tables import Lake
from atelier.tracking.onnx_export import MODEL_FILE, export_onnx, write_rows
from atelier.tracking.store import use_platform

REPO = Path(__file__).resolve().parents[1]
JAVA = REPO / "java"


def java_benchmark(export: Path, rows_file: Path, repeats: int) -> dict:
    """Build the library's test classes and run ScoringBenchmark in its own JVM; its JSON line."""
    classpath = JAVA / "target" / "classpath.txt"
    subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-Dstyle.color=never",
            "test-compile",
            "dependency:build-classpath",
            f"-Dmdep.outputFile={classpath}",
        ],
        cwd=JAVA,
        check=True,
    )
    path = ":".join([str(JAVA / "target" / "classes"), str(JAVA / "target" / "test-classes"), classpath.read_text()])
    out = subprocess.run(
        [
            "java",
            "-Xmx4g",
            "-cp",
            path,
            "dev.atelier.scoring.ScoringBenchmark",
            str(export),
            str(rows_file),
            str(repeats),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    setup_logging("WARNING")
    platform = load_platform(overrides=["spark.master=local[2]"])
    use_case = load_use_case("flights_delay")
    use_platform(platform)
    work = REPO / "var" / "bench" / "java_scoring"
    export = export_onnx(use_case, "champion", work / "onnx")
    spark = build_session(platform, app_name="atelier-bench-java-scoring")
    frame = Lake(spark, platform).read(use_case.tables.features).select(*use_case.model_columns()).toPandas()
    spark.stop()
    manifest = json.loads((export / "manifest.json").read_text())
    model = TabularModel.from_folder(
        Path(
            mlflow.artifacts.download_artifacts(
                f"models:/{manifest['model']}/{manifest['version']}", dst_path=str(work / "pyfunc")
            )
        )
    )
    rows = len(frame)
    print(f"scoring {rows:,} feature rows with {manifest['model']} version {manifest['version']}, one thread each")

    torch.set_num_threads(1)
    python = best_rate(rows, lambda: model.predict(None, frame), args.repeats)
    expected = model.score(frame)
    onnx_session = session(export / MODEL_FILE, threads=1)
    onnx_python = best_rate(rows, lambda: ort_scores(onnx_session, frame), args.repeats)
    onnx_diff = np.abs(ort_scores(onnx_session, frame) - expected).max()
    java = java_benchmark(export, write_rows(work / "rows.json", frame, expected), args.repeats)

    print(f"  pyfunc bare predict (torch, 1 thread)                 {python:>12,.0f} rows/s")
    print(
        f"  onnxruntime in Python (1 thread)                      {onnx_python:>12,.0f} rows/s   "
        f"max |diff| vs pyfunc {onnx_diff:.3g}"
    )
    print(
        f"  Java AtelierModel.predictBatch (1 thread, one call)   {java['batch_rows_per_s']:>12,.0f} rows/s   "
        f"max |diff| vs pyfunc {java['max_abs_diff']:.3g}"
    )
    print(f"  Java AtelierModel.predict, row by row (1 thread)      {java['row_rows_per_s']:>12,.0f} rows/s")
    print(f"  Java batch / pyfunc = {java['batch_rows_per_s'] / python:.2f}x")


if __name__ == "__main__":
    main()
