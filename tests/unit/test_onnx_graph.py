"""The ONNX graph of a model against the pyfunc's own scoring, without Spark or MLflow: zoo models, both tasks."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from atelier.errors import AtelierError
from atelier.model.networks import ModelSpec, build_model
from atelier.model.onnx_graph import (
    CATEGORIES,
    TOLERANCE,
    matrix_scores,
    ort_scores,
    session,
    to_matrix_onnx,
    to_onnx,
)
from atelier.model.onnx_graph import (
    NUMERIC as NUMERIC_INPUT,
)
from atelier.model.preprocessor import OOV, Preprocessor
from atelier.model.pyfunc import TabularModel, write_model_files
from atelier.tracking.onnx_export import MODEL_FILE

NUMERIC = {"distance": (1000.0, 700.0), "wx_temp": (60.0, 18.0)}
VOCAB = {"carrier": [OOV, "UA", "B6", "EV"], "origin": [OOV, "EWR", "JFK", "LGA"]}


def model(folder: Path, name: str, task: str, numeric: dict, vocab: dict) -> TabularModel:
    spec = ModelSpec(
        name=name,
        task=task,
        numeric=list(numeric),
        categorical=list(vocab),
        cardinalities=[len(v) for v in vocab.values()],
        params={"hidden": [8]} if name == "mlp" else {},
    )
    torch.manual_seed(0)
    net = build_model(spec)
    with torch.no_grad():
        for p in net.parameters():
            p.uniform_(-0.5, 0.5)  # the linear model starts at zero: make every input count
    weights = io.BytesIO()
    torch.save(net.state_dict(), weights)
    files = write_model_files(folder, spec, Preprocessor(numeric, vocab), (12.0, 40.0), 0.5, weights.getvalue())
    return TabularModel().load(Path(files["spec"]), Path(files["weights"]))


def rows(columns: list[str], n: int = 400) -> pd.DataFrame:
    """Random rows with nulls, infinities, unseen categories and the OOV marker itself."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({c: rng.normal(*NUMERIC[c], n) for c in columns if c in NUMERIC})
    for c in columns:
        if c in VOCAB:
            frame[c] = rng.choice([*VOCAB[c][1:], "never seen", OOV, None], n)
    for i, c in enumerate(c for c in columns if c in NUMERIC):
        frame.loc[frame.index % 7 == i, c] = np.nan
        frame.loc[frame.index % 11 == i, c] = np.inf
    return frame[columns]


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")  # a linear model without numerics
@pytest.mark.parametrize(
    "name, task, numeric, vocab",
    [
        ("mlp", "binary", NUMERIC, VOCAB),
        ("linear", "regression", NUMERIC, {}),
        ("linear", "binary", {}, VOCAB),
    ],
)
def test_the_graph_scores_like_the_pyfunc(tmp_path: Path, name: str, task: str, numeric: dict, vocab: dict) -> None:
    pyfunc = model(tmp_path, name, task, numeric, vocab)
    columns = [*vocab, *numeric][::-1]  # any order: the graph follows the signature's, not the model's
    path = tmp_path / MODEL_FILE
    path.write_bytes(to_onnx(pyfunc, columns, {"model": "m"}).SerializeToString())
    sess = session(path)
    assert [i.name for i in sess.get_inputs()] == columns
    frame = rows(columns)
    expected = pyfunc.score(frame)
    assert np.abs(ort_scores(sess, frame) - expected).max() <= TOLERANCE
    assert np.abs(ort_scores(sess, frame.iloc[:1]) - expected[:1]).max() <= TOLERANCE  # a batch of one


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
@pytest.mark.parametrize(
    "name, task, numeric, vocab",
    [
        ("mlp", "binary", NUMERIC, VOCAB),
        ("linear", "regression", NUMERIC, {}),
        ("linear", "binary", {}, VOCAB),
    ],
)
def test_the_matrix_graph_scores_like_the_pyfunc(
    tmp_path: Path, name: str, task: str, numeric: dict, vocab: dict
) -> None:
    """The JVM scorer's graph: raw numerics as one matrix, categories as vocabulary indices (0: unseen, null)."""
    pyfunc = model(tmp_path, name, task, numeric, vocab)
    path = tmp_path / MODEL_FILE
    path.write_bytes(to_matrix_onnx(pyfunc).SerializeToString())
    sess = session(path)
    assert [i.name for i in sess.get_inputs()] == [
        n for n, cols in ((NUMERIC_INPUT, numeric), (CATEGORIES, vocab)) if cols
    ]
    frame = rows([*numeric, *vocab])
    assert np.abs(matrix_scores(sess, pyfunc, frame) - pyfunc.score(frame)).max() <= TOLERANCE


def test_a_category_named_like_the_null_marker_is_refused(tmp_path: Path) -> None:
    pyfunc = model(tmp_path, "linear", "binary", NUMERIC, {"carrier": [OOV, "UA", OOV]})
    with pytest.raises(AtelierError, match="reserved for null"):
        to_onnx(pyfunc, ["carrier", *NUMERIC], {})


def test_a_model_pickled_before_the_model_package_loads_its_class() -> None:
    """MLflow pickles the pyfunc's class by reference; versions registered before it moved name the old path."""
    old_reference = b"catelier.tracking.pyfunc\nTabularModel\n."
    assert pickle.loads(old_reference) is TabularModel
