"""The model as ONE ONNX graph, raw columns in, score out: what the Java library and the JVM engine run.

The graph takes each raw feature column as its own 1-D input, in the pyfunc signature's order:
numeric columns as double (NaN for null), categorical columns as string. Inside it does what the
pyfunc (`model/pyfunc.py`) does: standardize the numerics with the stored means and standard
deviations (null or infinite -> 0, the mean), look categories up in the stored vocabularies (an ai.onnx.ml
LabelEncoder; unseen -> 0, the out-of-vocabulary index), run the network, and turn its output into
the score (sigmoid, or the label's scale). A null category is fed as `NULL_CATEGORY`, which no
vocabulary maps, so it lands at 0 as well. The network part is traced with `torch.onnx.export`;
the lookups are put in front of it. `to_matrix_onnx` is the same path after the category lookup,
for the Spark JVM engine, which looks categories up itself.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import torch
from onnx import TensorProto, helper
from torch import nn

from atelier.errors import EXIT_INTERNAL, AtelierError
from atelier.model.networks import output_to_score
from atelier.model.preprocessor import OOV
from atelier.model.pyfunc import TabularModel

log = logging.getLogger(__name__)

OPSET, ML_OPSET = 18, 3  # ONNX Runtime >= 1.14 (Java included) runs both
NULL_CATEGORY = OOV
OUTPUT = "score"
INDEX_SUFFIX = "__index"
NUMERIC, CATEGORIES = "numeric", "categories"  # the inputs of `to_matrix_onnx`
# The exporter's per-pass INFO lines, and its warning per torchvision operator (torchvision is not installed).
QUIET = {
    "onnx_ir": logging.WARNING,
    "onnxscript": logging.WARNING,
    "torch.onnx._internal.exporter._registration": logging.ERROR,
}
TOLERANCE = 1e-5  # the export refuses a graph whose scores differ more from the pyfunc's


class ExportCheckFailed(AtelierError):
    """The ONNX graph does not answer like the pyfunc on the probe rows: a defect of the export, not an input."""

    exit_status = EXIT_INTERNAL


class _ScorePath(nn.Module):
    """The pyfunc's arithmetic from raw numerics and category indices to the score."""

    def __init__(self, model: TabularModel) -> None:
        super().__init__()
        numeric = model.preprocessor.numeric
        self.register_buffer("mean", torch.tensor([m for m, _ in numeric.values()], dtype=torch.float64))
        self.register_buffer("std", torch.tensor([s for _, s in numeric.values()], dtype=torch.float64))
        self.net, self.task, self.label_scale = model.net, model.spec.task, model.label_scale

    def score(self, numeric: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        """`numeric`: [rows, k] float64 raw values in the preprocessor's order; `categorical`: [rows, m] indices."""
        if numeric.shape[1]:
            numeric = (numeric - self.mean) / self.std
        numeric = torch.where(torch.isfinite(numeric), numeric, torch.zeros_like(numeric)).float()
        return output_to_score(self.net(numeric, categorical), self.task, self.label_scale)


class _ColumnPath(_ScorePath):
    """One 1-D input per raw column, in the signature's order (the library graph)."""

    def __init__(self, model: TabularModel, columns: list[str]) -> None:
        super().__init__(model)
        self.numeric_at = [columns.index(c) for c in model.preprocessor.numeric]
        self.categorical_at = [columns.index(c) for c in model.preprocessor.vocab]

    def forward(self, *columns: torch.Tensor) -> torch.Tensor:
        return self.score(
            _stacked(columns, self.numeric_at, torch.float64), _stacked(columns, self.categorical_at, torch.int64)
        )


class _MatrixPath(_ScorePath):
    """`NUMERIC` [rows, k] and `CATEGORIES` [rows, m] inputs, each only where the model has such columns."""

    def __init__(self, model: TabularModel) -> None:
        super().__init__(model)
        self.widths = len(model.preprocessor.numeric), len(model.preprocessor.vocab)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        given = iter(inputs)
        numeric, categorical = (
            next(given) if width else _no_columns(inputs[0], dtype)
            for width, dtype in zip(self.widths, (torch.float64, torch.int64))
        )
        return self.score(numeric, categorical)


def _stacked(columns: tuple[torch.Tensor, ...], at: list[int], dtype: torch.dtype) -> torch.Tensor:
    return torch.stack([columns[i] for i in at], 1) if at else _no_columns(columns[0], dtype)


def _no_columns(rows_of: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A [rows, 0] tensor with as many rows as `rows_of`."""
    return rows_of.new_zeros((rows_of.shape[0], 0), dtype=dtype)


def _traced(module: nn.Module, example: tuple[torch.Tensor, ...], names: list[str]) -> onnx.ModelProto:
    """`module` as an ONNX graph whose inputs' first dimension (the rows) is dynamic."""
    batch = torch.export.Dim("batch")
    for name, level in QUIET.items():
        logging.getLogger(name).setLevel(level)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module.eval(),
            example,
            input_names=names,
            output_names=[OUTPUT],
            dynamic_shapes=(tuple({0: batch} for _ in example),),
            opset_version=OPSET,
            dynamo=True,
            verbose=False,
        )
    assert program is not None  # export returns the program when dynamo=True and no file is given
    return program.model_proto


def to_onnx(model: TabularModel, columns: list[str], metadata: dict[str, str]) -> onnx.ModelProto:
    """The whole prediction path of `model` as one graph over `columns` (the pyfunc's inputs)."""
    vocab = model.preprocessor.vocab
    for column, categories in vocab.items():
        if NULL_CATEGORY in categories[1:]:
            raise AtelierError(f"column {column}: the category '{NULL_CATEGORY}' is reserved for null")
    traced = [f"{c}{INDEX_SUFFIX}" if c in vocab else c for c in columns]
    example = tuple(torch.zeros(2, dtype=torch.int64 if c in vocab else torch.float64) for c in columns)
    proto = _traced(_ColumnPath(model, columns), example, traced)
    graph = proto.graph
    inputs = {i.name: i for i in graph.input}
    lookups = []
    for column, name in zip(columns, traced):
        if column not in vocab:
            continue
        categories = vocab[column][1:]
        lookups.append(
            helper.make_node(
                "LabelEncoder",
                [column],
                [name],
                domain="ai.onnx.ml",
                name=f"lookup_{column}",
                keys_strings=categories,
                values_int64s=list(range(1, len(categories) + 1)),
                default_int64=0,
            )
        )
        dim = inputs[name].type.tensor_type.shape.dim[0]
        inputs[column] = helper.make_tensor_value_info(column, TensorProto.STRING, [dim.dim_param or dim.dim_value])
    ordered = [inputs[c] for c in columns]
    del graph.input[:]
    graph.input.extend(ordered)
    for node in reversed(lookups):
        graph.node.insert(0, node)
    proto.opset_import.append(helper.make_opsetid("ai.onnx.ml", ML_OPSET))
    helper.set_model_props(proto, metadata)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def to_matrix_onnx(model: TabularModel) -> onnx.ModelProto:
    """The prediction path after the category lookup, for a scorer that looks categories up itself.

    Inputs: `NUMERIC`, [rows, k] float64, the raw numeric columns in the preprocessor's order (NaN for
    null), and `CATEGORIES`, [rows, m] int64, each categorical column's index in its vocabulary (0:
    unseen or null); an input is left out where the model has no such columns.
    """
    widths = len(model.preprocessor.numeric), len(model.preprocessor.vocab)
    present = [
        (name, width, dtype)
        for name, width, dtype in zip((NUMERIC, CATEGORIES), widths, (torch.float64, torch.int64))
        if width
    ]
    example = tuple(torch.zeros((2, width), dtype=dtype) for _, width, dtype in present)
    proto = _traced(_MatrixPath(model), example, [name for name, _, _ in present])
    onnx.checker.check_model(proto, full_check=True)
    return proto


def ort_feed(session: ort.InferenceSession, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The graph's inputs from a frame of raw columns: numbers as float64 (NaN for null), strings with nulls marked."""
    feed = {}
    for spec in session.get_inputs():
        values = frame[spec.name]
        if spec.type == "tensor(string)":
            feed[spec.name] = values.where(values.notna(), NULL_CATEGORY).astype(str).to_numpy(dtype=object)
        else:
            feed[spec.name] = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return feed


def session(path: Path, threads: int = 0) -> ort.InferenceSession:
    """An ONNX Runtime session on the CPU (`threads` 0: its default)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def ort_scores(sess: ort.InferenceSession, frame: pd.DataFrame) -> np.ndarray:
    return sess.run([OUTPUT], ort_feed(sess, frame))[0].astype(np.float64)


def matrix_scores(sess: ort.InferenceSession, model: TabularModel, frame: pd.DataFrame) -> np.ndarray:
    """The scores of `to_matrix_onnx`'s graph for a frame of raw columns (categories looked up by the pyfunc's
    preprocessor, as the JVM scorer looks them up)."""
    numeric = (
        frame[list(model.preprocessor.numeric)]
        .apply(pd.to_numeric, errors="coerce")
        .to_numpy(dtype=np.float64, na_value=np.nan)
    )
    feed = {NUMERIC: numeric, CATEGORIES: model.preprocessor.transform(frame)[1]}
    return sess.run([OUTPUT], {i.name: feed[i.name] for i in sess.get_inputs()})[0].astype(np.float64)


def probe_frames(example: pd.DataFrame, categorical: list[str]) -> list[pd.DataFrame]:
    """The example rows as they are, with every value null, and with every category unseen."""
    nulls = pd.DataFrame({c: pd.Series([None] * len(example), dtype=object) for c in example.columns})
    unseen = example.copy()
    unseen[categorical] = "never seen in training"
    return [example, nulls, unseen]
