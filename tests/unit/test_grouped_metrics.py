"""The live metrics as Spark aggregates equal model.metrics on each group's labelled rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from atelier.model.metrics import defined_metrics
from atelier.monitoring.grouped_metrics import BINARY, METRICS, REGRESSION, grouped_metrics

THRESHOLD = 0.4


def binary_groups(rng: np.random.Generator) -> pd.DataFrame:
    """Groups with ties, unknown labels, one class only, no labels, and scores on the bins' edges."""

    def group(name: str, score: np.ndarray, label: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame({"g": name, "score": score, "label": label, "threshold": THRESHOLD})

    n = 3000
    score = np.round(rng.beta(2, 3, n), 2)  # many ties
    label = (rng.random(n) < score).astype(float)
    label[rng.random(n) < 0.3] = np.nan  # outcomes not known yet
    edges = np.array([0.0, 0.1, 0.4, 0.4, 0.9, 1.0, 1.0, 0.55])
    return pd.concat(
        [
            group("ties", score, label),
            group("continuous", rng.random(500), (rng.random(500) < 0.3).astype(float)),
            group("one class", rng.random(50), np.ones(50)),
            group("unlabelled", rng.random(20), np.full(20, np.nan)),
            group("edges", edges, np.array([0, 1, 1, 0, 1, 1, 0, 1], dtype=float)),
        ]
    )


def regression_groups(rng: np.random.Generator) -> pd.DataFrame:
    label = rng.normal(10, 5, 400)
    label[:50] = np.nan
    return pd.concat(
        [
            pd.DataFrame({"g": "some", "score": label + rng.normal(1, 2, 400), "label": label}),
            pd.DataFrame({"g": "none", "score": rng.random(5), "label": np.full(5, np.nan)}),
        ]
    ).assign(threshold=0.0)


@pytest.mark.parametrize(
    ("task", "make", "own"), [("binary", binary_groups, BINARY), ("regression", regression_groups, REGRESSION)]
)
def test_every_group_matches_the_numpy_metrics(spark: SparkSession, task, make, own) -> None:
    frame = make(np.random.default_rng(3))
    rows = spark.createDataFrame(frame).withColumn("label", F.when(~F.isnan("label"), F.col("label")))  # NaN: unknown
    found = {r["g"]: r.asDict() for r in grouped_metrics(rows, ["g"], task).collect()}
    assert set(found) == set(frame["g"])
    for name, rows in frame.groupby("g"):
        labelled = rows[rows["label"].notna()]
        expected = defined_metrics(task, labelled["label"].to_numpy(), labelled["score"].to_numpy(), THRESHOLD)
        expected["observed_positive_rate"] = expected.pop("positive_rate", None)
        got = found[name]
        assert (got["rows_scored"], got["rows_labelled"]) == (len(rows), len(labelled)), name
        assert got["label_completeness"] == pytest.approx(len(labelled) / len(rows)), name
        for metric in METRICS:
            want = expected.get(metric) if metric in own else None
            assert got[metric] == (None if want is None else pytest.approx(want, abs=1e-9)), (name, metric)
    if task == "binary":  # the cases are there: a group with both classes, one with one, one with none
        assert found["ties"]["auc"] is not None and found["one class"]["auc"] is None
        assert found["one class"]["accuracy"] is not None and found["unlabelled"]["accuracy"] is None
