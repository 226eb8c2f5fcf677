"""The `jvm` scoring engine: every arm's model as an ONNX graph that ONNX Runtime applies inside the
executor JVMs (`atelier.spark.onnx_scorer`), so the rows never cross to a Python worker and back.

Each arm's graph (`model.onnx_graph.to_matrix_onnx`: the pyfunc's arithmetic after the category lookup)
is built once per model version beside the arm's cached model (`FOLDER`), and refused if it
scores the model's input example (as is, all null, all categories unseen) differently from the
pyfunc by more than `onnx_graph.TOLERANCE`. `scorer.json` beside it holds what the JVM side does
itself: each categorical column's vocabulary (index 0: unseen or null), the task and the threshold.
The rows reach the JVM side with every input cast once: numbers to double, categories to string.
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
import uuid
from pathlib import Path

import numpy as np
import onnx
from mlflow.models import Model
from py4j.java_gateway import JavaPackage
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from atelier.errors import AtelierError
from atelier.model.onnx_graph import TOLERANCE, ExportCheckFailed, matrix_scores, probe_frames, session, to_matrix_onnx
from atelier.model.pyfunc import TabularModel
from atelier.spark import onnx_scorer

log = logging.getLogger(__name__)

# Beside each cached model; a new graph format gets a new folder, so no job trusts an older one.
FOLDER = "jvm-scorer-1"
MODEL_FILE, SPEC_FILE = "model.onnx", "scorer.json"  # as OnnxScorer.java reads them
BATCH_ROWS = 8192  # rows per ONNX Runtime call


class JvmEngineMissing(AtelierError):
    """The session lacks the JVM scorer's jars."""


def graph_folder(model_folder: str) -> Path:
    """The arm's scorer graph and its spec, built and checked when missing (whole or not at all)."""
    folder = Path(model_folder) / FOLDER
    if (folder / SPEC_FILE).is_file():
        return folder
    model = TabularModel.from_folder(Path(model_folder))
    staging = folder.with_name(f".{FOLDER}.{uuid.uuid4().hex}")
    staging.mkdir()
    try:
        onnx.save(to_matrix_onnx(model), staging / MODEL_FILE)
        _check(model, Path(model_folder), staging / MODEL_FILE)
        (staging / SPEC_FILE).write_text(
            json.dumps(
                {
                    "numeric": list(model.preprocessor.numeric),
                    "categorical": list(model.preprocessor.vocab),
                    "categories": [v[1:] for v in model.preprocessor.vocab.values()],
                    "task": model.spec.task,
                    "threshold": model.threshold,
                }
            )
        )
        staging.rename(folder)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (folder / SPEC_FILE).is_file():
            raise  # not another job's graph already in place
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("built the JVM scorer's graph of %s", model_folder)
    return folder


def _check(model: TabularModel, model_folder: Path, graph: Path) -> None:
    """Refuse a graph that scores the model's probe rows unlike the pyfunc."""
    example = Model.load(str(model_folder)).load_input_example(str(model_folder))
    sess = session(graph, threads=1)
    diff = max(
        float(np.abs(matrix_scores(sess, model, frame) - model.score(frame)).max())
        for frame in probe_frames(example, list(model.preprocessor.vocab))
    )
    if not diff <= TOLERANCE:
        raise ExportCheckFailed(
            f"{model_folder}: the JVM scorer's graph differs from the pyfunc by up to {diff:.3g} "
            f"on its probe rows (tolerance {TOLERANCE})"
        )


def score(frame: DataFrame, model_folders: list[str], carry: list[str]) -> DataFrame:
    """`frame` scored by each model, as `batch.scorer` yields it: carry, arm_index, score, predicted_label."""
    jvm = frame.sparkSession._jvm
    assert jvm is not None  # a running session's JVM view (None only before it starts)
    scorer = functools.reduce(getattr, onnx_scorer.CLASS.split("."), jvm)
    if isinstance(scorer, JavaPackage):
        raise JvmEngineMissing(
            f"the session has no {onnx_scorer.CLASS}: the jvm scoring engine needs the jobs' jars "
            "in the Ivy cache (.venv/bin/python scripts/fetch_jars.py) and javac to compile it (the "
            "session's warning says which is missing); or set scoring.engine: python"
        )
    graphs = [graph_folder(f) for f in model_folders]
    specs = [json.loads((g / SPEC_FILE).read_text()) for g in graphs]
    numeric = list(dict.fromkeys(c for s in specs for c in s["numeric"]))
    categorical = list(dict.fromkeys(c for s in specs for c in s["categorical"]))
    columns: list[Column | str] = [
        *carry,
        *[F.col(c).cast("double").alias(f"n{i}") for i, c in enumerate(numeric)],
        *[F.col(c).cast("string").alias(f"s{i}") for i, c in enumerate(categorical)],
    ]
    first_string = len(carry) + len(numeric)
    plan = {
        "carry": len(carry),
        "batch_rows": BATCH_ROWS,
        "arms": [
            {
                "folder": str(g),
                "numeric": [len(carry) + numeric.index(c) for c in s["numeric"]],
                "categorical": [first_string + categorical.index(c) for c in s["categorical"]],
            }
            for g, s in zip(graphs, specs)
        ],
    }
    return DataFrame(scorer.score(frame.select(*columns)._jdf, json.dumps(plan)), frame.sparkSession)
