"""The training loop, loaders, models and metrics without Spark, on small synthetic encoded shards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from atelier.model.metrics import permutation_importance
from atelier.model.networks import ModelSpec, build_model
from atelier.training import gpu_check
from atelier.training.loaders import ArrowLoader, Columns, PetastormLoader, read_all, row_groups, steps_per_epoch
from atelier.training.loop import TrainingDiverged, WorkerSpec, histogram_auc, run_worker

COLUMNS = Columns(gpu_check.NUMERIC, list(gpu_check.CATEGORICAL))


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sample")
    gpu_check.make_sample(folder, rows=6000, shards=6)
    return folder


def files(sample: Path, split: str = "train") -> list[str]:
    return sorted(str(p) for p in (sample / split).glob("*.parquet"))


def spec(sample: Path, **changes) -> WorkerSpec:
    model = ModelSpec(
        name="mlp",
        task="binary",
        numeric=COLUMNS.numeric,
        categorical=COLUMNS.categorical,
        cardinalities=list(gpu_check.CATEGORICAL.values()),
        params={"hidden": [32]},
    )
    base = dict(
        model=model,
        columns=COLUMNS,
        train_files=files(sample),
        validation_files=files(sample, "validation"),
        epochs=2,
        batch_size=256,
        log_every_steps=5,
        dynamics_every_steps=5,
        threads=1,
    )
    return WorkerSpec(**{**base, **changes})


@pytest.mark.parametrize("size", [1, 2, 4])
def test_arrow_and_petastorm_loaders_give_the_same_rows_per_epoch(sample: Path, size: int) -> None:
    everything = set(read_all(files(sample), COLUMNS).row_id.tolist())
    steps = set()
    for loader_cls in (ArrowLoader, PetastormLoader):
        union = set()
        for rank in range(size):
            loader = loader_cls(files(sample), COLUMNS, rank, size, batch_size=200, seed=1)
            batches = list(loader.epoch(0))
            steps.add(len(batches))
            ids = set(torch.cat([b.row_id for b in batches]).tolist())
            reference = set(
                torch.cat(
                    [b.row_id for b in ArrowLoader(files(sample), COLUMNS, rank, size, 200, 1).one_pass()]
                ).tolist()
            )
            assert ids == reference, f"{loader_cls.__name__} rank {rank}/{size} read other rows than its shard"
            union |= ids
        assert union == everything, f"{loader_cls.__name__}: an epoch over {size} ranks must cover every row"
    assert len(steps) == 1, f"every rank and loader takes the same number of steps per epoch, got {steps}"


def test_epochs_are_shuffled_differently_but_reproducibly(sample: Path) -> None:
    loader = ArrowLoader(files(sample), COLUMNS, 0, 1, 100, seed=7)
    first = [b.row_id[:5].tolist() for b in loader.epoch(0)][:3]
    assert first == [b.row_id[:5].tolist() for b in ArrowLoader(files(sample), COLUMNS, 0, 1, 100, 7).epoch(0)][:3]
    assert first != [b.row_id[:5].tolist() for b in loader.epoch(1)][:3]


def test_steps_per_epoch_pads_the_smaller_shard() -> None:
    from atelier.training.loaders import RowGroup

    groups = [RowGroup("a", 0, 1000), RowGroup("b", 0, 10), RowGroup("c", 0, 1000)]
    assert steps_per_epoch(groups, 2, 100) == 20  # rank 0 holds 2000 rows; rank 1 (10 rows) wraps around


def test_local_training_is_exactly_reproducible_with_a_fixed_seed(sample: Path) -> None:
    first, second = run_worker(spec(sample)), run_worker(spec(sample))
    a, b = (torch.load(__import__("io").BytesIO(r.state_dict)) for r in (first, second))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert first.series["train_loss"] == second.series["train_loss"]
    different = torch.load(__import__("io").BytesIO(run_worker(spec(sample, seed=99)).state_dict))
    assert not all(torch.equal(a[k], different[k]) for k in a)


def test_training_learns_and_records_dynamics(sample: Path) -> None:
    result = run_worker(spec(sample, epochs=3))
    aucs = [v for _, v in result.series["val_auc"]]
    assert aucs[-1] > 0.7, aucs  # the sample's label follows a simple rule
    for stat in (
        "activation_mean",
        "activation_var",
        "gradient_mean",
        "gradient_var",
        "update_mean",
        "update_var",
        "update_to_weight",
    ):
        assert len(result.series[f"dynamics/body.0/{stat}"]) > 1, stat
    assert all(0 < v < 1 for _, v in result.series["dynamics/head/update_to_weight"])


def test_a_nan_loss_stops_training_with_a_clear_message(sample: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainingDiverged, match=r"loss is (nan|inf) at epoch 0, step \d+.*learning_rate"):
        run_worker(spec(sample, learning_rate=1e30, epochs=1, work_dir=str(tmp_path)))
    assert "TrainingDiverged" in (tmp_path / "error-rank-0.txt").read_text()


def test_histogram_auc_matches_sklearn() -> None:
    rng = np.random.default_rng(0)
    label = rng.integers(0, 2, 5000).astype(float)
    score = np.clip(rng.normal(0.4 + 0.2 * label, 0.2), 0, 1)
    hist = torch.zeros(2, 2000, dtype=torch.float64)
    bins = torch.clamp(torch.from_numpy(score * 2000).long(), 0, 1999)
    hist[1].index_add_(0, bins, torch.from_numpy(label))
    hist[0].index_add_(0, bins, torch.from_numpy(1 - label))
    assert histogram_auc(hist) == pytest.approx(roc_auc_score(label, score), abs=1e-3)


def test_permutation_importance_ranks_the_informative_feature_first() -> None:
    rng = np.random.default_rng(0)
    numeric = rng.standard_normal((4000, 3)).astype(np.float32)
    categorical = rng.integers(0, 3, (4000, 1))
    label = (numeric[:, 1] > 0).astype(float)
    importance = permutation_importance(
        lambda n, c: 1 / (1 + np.exp(-4 * n[:, 1])), numeric, categorical, label, ["a", "b", "c", "k"], "binary"
    )
    assert list(importance)[0] == "b" and importance["b"] > 0.3
    assert importance["a"] == importance["c"] == importance["k"] == 0


def test_models_of_the_zoo_and_their_parameters() -> None:
    base = dict(task="binary", numeric=["x", "y"], categorical=["c"], cardinalities=[5])
    num, cat = torch.zeros(3, 2), torch.zeros(3, 1, dtype=torch.long)
    for name in ("mlp", "linear"):
        assert build_model(ModelSpec(name=name, **base))(num, cat).shape == (3,)
    with pytest.raises(ValueError, match="model 'mlp': bad params"):
        build_model(ModelSpec(name="mlp", params={"layers": 3}, **base))


def test_row_groups_are_listed_in_file_order(sample: Path) -> None:
    groups = row_groups(files(sample))
    assert [g.file for g in groups] == sorted(g.file for g in groups) and sum(g.rows for g in groups) == 6000


@pytest.mark.e2e
def test_gpu_check_runs_without_spark_under_torchrun(sample: Path) -> None:
    """The check meant for a CUDA machine, here on CPU: two torch.distributed ranks via torchrun, no Spark."""
    torchrun = Path(sys.executable).parent / "torchrun"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    out = subprocess.run(
        [
            str(torchrun),
            "--nproc_per_node=2",
            "-m",
            "atelier.training.gpu_check",
            "--data",
            str(sample),
            "--device",
            "cpu",
            "--epochs",
            "1",
            "--threads",
            "1",
            "--batch-size",
            "512",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    reports = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert sorted(r["rank"] for r in reports) == [0, 1] and all(r["size"] == 2 for r in reports)
    assert all(r["samples_per_s"] > 0 and 0 <= r["loader_share"] < 1 for r in reports)
