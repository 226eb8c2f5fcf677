"""What a training run writes to MLflow besides metrics: configuration, inputs, environment, graph.

Each function logs into the active run; `tracking.mlflow_setup` points MLflow at the platform's
tracking store first.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import subprocess
import time
from pathlib import Path
from typing import Any

import mlflow
import torch
import yaml
from mlflow.data.delta_dataset_source import DeltaDatasetSource
from mlflow.data.meta_dataset import MetaDataset

from atelier.config.platform import PlatformConfig
from atelier.config.use_case import UseCaseConfig
from atelier.model.networks import parameter_count
from atelier.tracking import charts

log = logging.getLogger(__name__)

KEY_PACKAGES = (
    "atelier",
    "pyspark",
    "delta-spark",
    "torch",
    "horovod",
    "petastorm",
    "pyarrow",
    "numpy",
    "pandas",
    "mlflow",
    "great-expectations",
    "scikit-learn",
)
MAX_PARAM = 6000


class TableDataset(MetaDataset):
    """A Delta table at a version as an MLflow dataset input, with its row count as the profile."""

    def __init__(self, path: str, name: str, version: int, rows: int) -> None:
        self._rows, self._version = rows, version
        super().__init__(source=DeltaDatasetSource(path=path, delta_table_version=version), name=name)

    @property
    def profile(self) -> dict[str, Any]:
        return {"num_rows": self._rows}

    def to_dict(self) -> dict[str, str]:
        config = super().to_dict()
        # DeltaDatasetSource leaves out a falsy version: version 0 must be recorded too.
        source = {**json.loads(config["source"]), "delta_table_version": self._version}
        return {**config, "source": json.dumps(source), "profile": json.dumps(self.profile)}


def flatten(data: Any, prefix: str = "") -> dict[str, str]:
    """Nested mappings as dotted keys; lists as JSON."""
    if isinstance(data, dict):
        out: dict[str, str] = {}
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    text = json.dumps(data, default=str) if isinstance(data, (list, tuple)) else str(data)
    return {prefix.rstrip("."): text[:MAX_PARAM]}


def log_config(use_case: UseCaseConfig, platform: PlatformConfig) -> None:
    """Training settings, label and features as params; the full resolved YAML of both as artifacts."""
    uc = use_case.model_dump(mode="json")
    params = {
        "use_case": use_case.name,
        **flatten(uc["training"], "training."),
        **flatten(uc["label"], "label."),
        "features": json.dumps(use_case.model_columns()),
        "tables.features": use_case.tables.features,
        "tables.outcomes": use_case.tables.outcomes,
    }
    items = list(params.items())
    for i in range(0, len(items), 100):
        mlflow.log_params(dict(items[i : i + 100]))
    mlflow.log_text(yaml.safe_dump(uc, sort_keys=False), "config/use_case.yaml")
    mlflow.log_text(yaml.safe_dump(platform.model_dump(mode="json"), sort_keys=False), "config/platform.yaml")


def log_inputs(tables: dict[str, tuple[str, int, int]]) -> None:
    """Each input table {name: (path, version, rows)} as a dataset input and `input.<name>.*` tags."""
    for name, (path, version, rows) in tables.items():
        mlflow.log_input(TableDataset(path, name, version, rows), context="training")
        mlflow.set_tags({f"input.{name}.version": version, f"input.{name}.rows": rows, f"input.{name}.path": path})


def input_versions(tags: dict[str, str]) -> dict[str, int]:
    """The input tables' Delta versions a run pinned, from its `input.<table>.version` tags."""
    return {
        key[len("input.") : -len(".version")]: int(value)
        for key, value in tags.items()
        if key.startswith("input.") and key.endswith(".version")
    }


def log_environment() -> None:
    """The git commit (and whether the tree had changes), key package versions, and the full package list."""
    repo = Path(__file__).resolve().parents[3]
    commit = _git(repo, "rev-parse", "HEAD")
    if commit:
        dirty = bool(_git(repo, "status", "--porcelain", "--untracked-files=no"))
        mlflow.set_tags({"mlflow.source.git.commit": commit, "git.commit": commit, "git.dirty": str(dirty).lower()})
    versions = {}
    for name in KEY_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    mlflow.set_tags({f"package.{k}": v for k, v in versions.items()})
    everything = sorted(f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions())
    mlflow.log_text("\n".join(everything) + "\n", "environment/packages.txt")


def _git(repo: Path, *args: str) -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def log_series(series: dict[str, list[tuple[int, float]]]) -> None:
    """Metric histories (train loss per N steps, validation per epoch, layer dynamics) in batches."""
    from mlflow.entities import Metric

    run = mlflow.active_run()
    assert run is not None  # called inside the training run
    client, run_id = mlflow.MlflowClient(), run.info.run_id
    now = int(time.time() * 1000)
    metrics = [Metric(key, float(v), now, int(step)) for key, points in series.items() for step, v in points]
    for i in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[i : i + 1000])


def log_graph(model: torch.nn.Module, folder: Path) -> None:
    """A text summary (modules, shapes, parameter counts) and an image of the torch.fx graph."""
    lines = [f"{type(model).__name__}: {parameter_count(model):,} parameters", ""]
    for name, module in model.named_modules():
        own = sum(p.numel() for p in module.parameters(recurse=False))
        if own:
            shapes = ", ".join(f"{n}{tuple(p.shape)}" for n, p in module.named_parameters(recurse=False))
            lines.append(f"{name:<24} {type(module).__name__:<12} {own:>10,}  {shapes}")
    lines += ["", repr(model)]
    nodes = []
    try:
        traced = torch.fx.symbolic_trace(model)
        for node in traced.graph.nodes:
            op = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", str(node.target))
            nodes.append((node.name, f"{node.op}: {op}", [str(a) for a in node.all_input_nodes]))
        lines += ["", "torch.fx graph:", str(traced.graph)]
    except Exception as exc:  # a model torch.fx cannot trace still gets its summary
        log.warning("no graph image: torch.fx could not trace %s: %s", type(model).__name__, exc)
    (folder / "graph").mkdir(parents=True, exist_ok=True)
    (folder / "graph" / "summary.txt").write_text("\n".join(lines) + "\n")
    if nodes:
        charts.graph_chart(nodes, folder / "graph" / "graph.png")
    mlflow.log_artifacts(str(folder / "graph"), "graph")


def log_parameters(model: torch.nn.Module, numeric: list[str], vocab: dict[str, list[str]], folder: Path) -> None:
    """Every learned tensor (state dict), a per-tensor summary, and for linear models the coefficients."""
    out = folder / "parameters"
    out.mkdir(parents=True, exist_ok=True)
    state = model.state_dict()
    torch.save(state, out / "learned_parameters.pt")
    rows = ["tensor\tshape\tmean\tstd\tl2_norm"]
    for name, t in state.items():
        t = t.float()
        rows.append(f"{name}\t{list(t.shape)}\t{t.mean():.6g}\t{t.std(unbiased=False):.6g}\t{t.norm():.6g}")
    (out / "summary.tsv").write_text("\n".join(rows) + "\n")
    if "numeric.weight" in state:
        coef = ["term\tweight"] + [f"{n}\t{w:.6g}" for n, w in zip(numeric, state["numeric.weight"][0].tolist())]
        for i, (column, values) in enumerate(vocab.items()):
            coef += [f"{column}={v}\t{w:.6g}" for v, w in zip(values, state[f"categories.{i}.weight"][:, 0].tolist())]
        coef.append(f"(intercept)\t{float(state['numeric.bias'][0]):.6g}")
        (out / "coefficients.tsv").write_text("\n".join(coef) + "\n")
    mlflow.log_artifacts(str(out), "parameters")
