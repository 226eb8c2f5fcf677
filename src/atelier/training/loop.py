"""The one training loop every backend runs, on every rank; needs only torch, numpy and pyarrow.

`train(spec, collective)` builds the network from the zoo, reads this rank's shard with the chosen
loader, trains for `epochs` (every rank the same number of steps), averages the logged loss across
ranks, evaluates on the (sharded) validation set after each epoch with metrics summed across
ranks, records layer dynamics every N steps on rank 0, and stops with `TrainingDiverged` on a
non-finite loss. Rank 0 returns the learned weights and every metric series to the caller.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from atelier.errors import AtelierError
from atelier.model.networks import ModelSpec, build_model, initial_bias, loss_function, output_to_score
from atelier.training.collective import COLLECTIVES, LocalCollective
from atelier.training.dynamics import DynamicsRecorder
from atelier.training.loaders import Columns, make_loader

log = logging.getLogger(__name__)

AUC_BINS = 2000


class TrainingDiverged(AtelierError):
    """The loss stopped being a finite number."""


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a rank needs, picklable: it travels to Spark executors and torchrun workers."""

    model: ModelSpec
    columns: Columns
    train_files: list[str]
    validation_files: list[str]
    loader: str = "arrow"
    epochs: int = 5
    batch_size: int = 1024
    learning_rate: float = 2e-3
    weight_decay: float = 0.0
    seed: int = 13
    log_every_steps: int = 20
    dynamics_every_steps: int = 50
    use_gpu: bool = False
    positive_rate: float = 0.5
    label_scale: tuple[float, float] = (0.0, 1.0)
    threads: int = 1
    work_dir: str | None = None


@dataclass
class WorkerResult:
    rank: int
    size: int
    state_dict: bytes = b""
    series: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def run_worker(spec: WorkerSpec, collective: str = "local") -> WorkerResult:
    """Entry point on every rank: set up the collective, train, always release it."""
    started = time.time()
    coll = None
    try:
        coll = COLLECTIVES[collective](spec.use_gpu)
        result = train(spec, coll)
        result.timings["worker_start_unix"] = started
        return result
    except Exception as exc:
        _record_error(spec, coll.rank if coll else None, exc)
        raise
    finally:
        if coll:
            coll.shutdown()


def train(spec: WorkerSpec, coll: LocalCollective) -> WorkerResult:
    torch.set_num_threads(spec.threads)
    torch.manual_seed(spec.seed)
    np.random.seed(spec.seed)
    _heartbeat(spec, coll.rank, step=0)
    model = build_model(spec.model)
    initial_bias(model, spec.model.task, spec.positive_rate)
    model.to(coll.device)
    optimizer: torch.optim.Optimizer = torch.optim.AdamW(
        model.parameters(), lr=spec.learning_rate, weight_decay=spec.weight_decay
    )
    dynamics = DynamicsRecorder(model) if coll.rank == 0 else None
    model, optimizer = coll.wrap(model, optimizer)
    per_rank = max(1, -(-spec.batch_size // coll.size))
    loader = make_loader(spec.loader, spec.train_files, spec.columns, coll.rank, coll.size, per_rank, spec.seed)
    criterion = loss_function(spec.model.task)
    series: dict[str, list[tuple[int, float]]] = {}
    timings = {"steps_per_epoch": float(loader.steps), "first_step_unix": 0.0}
    step, loader_s, compute_s, samples = 0, 0.0, 0.0, 0
    started = time.perf_counter()
    for epoch in range(spec.epochs):
        model.train()
        epoch_start, running = time.perf_counter(), torch.zeros(2)
        wait = time.perf_counter()
        for batch in loader.epoch(epoch):
            got = time.perf_counter()
            loader_s += got - wait
            batch = batch.to(coll.device)
            if dynamics and step % spec.dynamics_every_steps == 0:
                dynamics.begin(step)
            target = _target(batch.label, spec)
            loss = criterion(model(batch.numeric, batch.categorical), target)
            if not torch.isfinite(loss):
                raise TrainingDiverged(
                    f"loss is {loss.item()} at epoch {epoch}, step {step} (rank {coll.rank}): lower "
                    f"training.learning_rate (now {spec.learning_rate}) or check the features for extreme values"
                )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if dynamics and dynamics.recording:
                dynamics.end()
            if step == 0:
                timings["first_step_unix"] = time.time()
            running += torch.tensor([loss.item() * len(batch), len(batch)])
            samples += len(batch)
            step += 1
            if step % spec.log_every_steps == 0:
                total = coll.allreduce_sum(running.clone())
                _add(series, "train_loss", step, float(total[0] / total[1]))
                _heartbeat(spec, coll.rank, step)
                running = torch.zeros(2)
            wait = time.perf_counter()
            compute_s += wait - got
        timings[f"epoch_{epoch}_seconds"] = time.perf_counter() - epoch_start
        validation = evaluate(model, spec, coll)
        for name, value in validation.items():
            _add(series, f"val_{name}", epoch, value)
        if coll.rank == 0:
            log.info(
                "epoch %d/%d: %.1f s, validation %s",
                epoch + 1,
                spec.epochs,
                timings[f"epoch_{epoch}_seconds"],
                " ".join(f"{k}={v:.4f}" for k, v in validation.items()),
            )
    timings.update(
        train_seconds=time.perf_counter() - started,
        loader_seconds=loader_s,
        compute_seconds=compute_s,
        samples=float(samples),
        steps=float(step),
    )
    result = WorkerResult(rank=coll.rank, size=coll.size, timings=timings)
    if coll.rank == 0:
        result.series = {**series, **(dynamics.series if dynamics else {})}
        inner = getattr(model, "module", model)
        buffer = io.BytesIO()
        torch.save({k: v.cpu() for k, v in inner.state_dict().items()}, buffer)
        result.state_dict = buffer.getvalue()
    return result


def evaluate(model: torch.nn.Module, spec: WorkerSpec, coll: LocalCollective) -> dict[str, float]:
    """Validation metrics over all ranks' shards: sums (and score histograms for AUC) are all-reduced."""
    model.eval()
    loader = make_loader(
        spec.loader, spec.validation_files, spec.columns, coll.rank, coll.size, 4096, spec.seed, shuffle=False
    )
    criterion = loss_function(spec.model.task)
    binary = spec.model.task == "binary"
    sums = torch.zeros(4, dtype=torch.float64)  # loss*n, n, correct | abs error, squared error
    hist = torch.zeros(2, AUC_BINS, dtype=torch.float64)
    with torch.no_grad():
        for batch in loader.one_pass():
            batch = batch.to(coll.device)
            out = model(batch.numeric, batch.categorical)
            n = len(batch)
            sums[0] += criterion(out, _target(batch.label, spec)).item() * n
            sums[1] += n
            score = output_to_score(out, spec.model.task, spec.label_scale).double().cpu()
            label = batch.label.double().cpu()
            if binary:
                sums[2] += ((score >= 0.5).double() == label).sum()
                bins = torch.clamp((score * AUC_BINS).long(), 0, AUC_BINS - 1)
                hist[1].index_add_(0, bins, label)
                hist[0].index_add_(0, bins, 1 - label)
            else:
                sums[2] += (score - label).abs().sum()
                sums[3] += ((score - label) ** 2).sum()
    sums = coll.allreduce_sum(sums)
    metrics = {"loss": float(sums[0] / sums[1])}
    if binary:
        metrics["accuracy"] = float(sums[2] / sums[1])
        metrics["auc"] = histogram_auc(coll.allreduce_sum(hist))
    else:
        metrics["mae"] = float(sums[2] / sums[1])
        metrics["rmse"] = float((sums[3] / sums[1]).sqrt())
    return metrics


def histogram_auc(hist: torch.Tensor) -> float:
    """ROC AUC from score histograms of negatives (row 0) and positives (row 1); ties count half."""
    neg, pos = hist[0], hist[1]
    below = torch.cumsum(neg, 0) - neg
    total = float(neg.sum() * pos.sum())
    return float(((below + neg / 2) * pos).sum() / total) if total else float("nan")


def _target(label: torch.Tensor, spec: WorkerSpec) -> torch.Tensor:
    mean, std = spec.label_scale
    return label if spec.model.task == "binary" else (label - mean) / std


def _add(series: dict[str, list[tuple[int, float]]], name: str, step: int, value: float) -> None:
    series.setdefault(name, []).append((step, value))


def _heartbeat(spec: WorkerSpec, rank: int, step: int) -> None:
    """`rank-N.json` in the run's work folder: this rank's pid and progress, for operators (and tests)."""
    if spec.work_dir:
        path = Path(spec.work_dir) / f"rank-{rank}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps({"pid": os.getpid(), "step": step, "at": time.time()}))
        partial.replace(path)  # readers never see a half-written file


def _record_error(spec: WorkerSpec, rank: int | None, exc: Exception) -> None:
    """`error-rank-N.txt` in the work folder: the launcher reports it instead of a wrapped stack trace."""
    if spec.work_dir:
        path = Path(spec.work_dir) / f"error-rank-{'unknown' if rank is None else rank}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{type(exc).__name__}: {exc}")


def worker_errors(work_dir: str | None) -> list[str]:
    """The errors workers recorded, rank 0 first."""
    if not work_dir or not Path(work_dir).is_dir():
        return []
    return [
        f"rank {p.stem.rsplit('-', 1)[1]}: {p.read_text()}" for p in sorted(Path(work_dir).glob("error-rank-*.txt"))
    ]


def load_state(model: torch.nn.Module, state: bytes) -> torch.nn.Module:
    model.load_state_dict(torch.load(io.BytesIO(state), map_location="cpu"))
    return model


def summary(result: WorkerResult) -> dict[str, Any]:
    t = result.timings
    return {
        "samples_per_s": t["samples"] * result.size / t["train_seconds"],
        "loader_share": t["loader_seconds"] / max(t["train_seconds"], 1e-9),
    }
