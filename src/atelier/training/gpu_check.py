"""Check the training loop where Spark is not installed: a CUDA machine with only torch and pyarrow.

    python -m atelier.training.gpu_check --data sample/ --device cuda
    torchrun --nproc_per_node=2 -m atelier.training.gpu_check --data sample/ --device cuda

`--data` is a folder of encoded training shards (`atelier`'s training set cache, or one made by
`--make-sample N`, which writes N synthetic encoded rows with the example's layout). Runs the same
`loop.train` the backends run (torch.distributed when launched by torchrun) and prints samples/s
and the loader's share of step time, as one JSON line per rank.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from atelier.model.networks import ModelSpec
from atelier.training.loaders import LABEL, ROW_ID, Columns
from atelier.training.loop import WorkerSpec, run_worker, summary

NUMERIC = [f"x{i}" for i in range(22)]
CATEGORICAL = {"carrier": 17, "origin": 4, "dest": 105, "route": 225, "plane_manufacturer": 36}


def make_sample(folder: Path, rows: int, shards: int = 8, seed: int = 13) -> None:
    """Synthetic encoded shards shaped like the example's (22 numerics, 5 categoricals), label from a rule."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", rows), ("validation", max(rows // 10, 1000))):
        (folder / split).mkdir(parents=True, exist_ok=True)
        numeric = rng.standard_normal((n, len(NUMERIC)), dtype=np.float32)
        cats = {c: rng.integers(0, k, n).astype(np.int32) for c, k in CATEGORICAL.items()}
        logit = numeric[:, 0] - 0.5 * numeric[:, 1] + 0.3 * (cats["carrier"] % 3) - 1.5
        label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float32)
        for s, part in enumerate(np.array_split(np.arange(n), shards)):
            table = pa.table(
                {
                    ROW_ID: pa.array(part.astype(np.int64)),
                    LABEL: label[part],
                    **{c: numeric[part, j] for j, c in enumerate(NUMERIC)},
                    **{c: v[part] for c, v in cats.items()},
                }
            )
            pq.write_table(table, folder / split / f"part-{s:05d}.parquet")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="atelier.training.gpu_check", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="folder with train/ and validation/ shards")
    parser.add_argument("--make-sample", type=int, metavar="N", help="first write N synthetic rows to --data")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--loader", choices=["arrow", "petastorm"], default="arrow")
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    args = parser.parse_args(argv)
    if args.make_sample and int(os.environ.get("RANK", 0)) == 0:
        make_sample(args.data, args.make_sample)
    files = {s: sorted(str(p) for p in (args.data / s).glob("*.parquet")) for s in ("train", "validation")}
    if not files["train"]:
        parser.error(f"{args.data}/train has no .parquet shards (use --make-sample N)")
    numeric, categorical, cards = _layout(files["train"][0])
    spec = WorkerSpec(
        model=ModelSpec(
            name="mlp",
            task="binary",
            numeric=numeric,
            categorical=categorical,
            cardinalities=cards,
            params={"hidden": [256, 128], "embedding_dim": 16},
        ),
        columns=Columns(numeric, categorical),
        train_files=files["train"],
        validation_files=files["validation"],
        loader=args.loader,
        epochs=args.epochs,
        batch_size=args.batch_size,
        use_gpu=args.device == "cuda",
        threads=args.threads,
        log_every_steps=50,
        dynamics_every_steps=200,
    )
    result = run_worker(spec, "torch" if "WORLD_SIZE" in os.environ else "local")
    report = {
        "rank": result.rank,
        "size": result.size,
        "device": args.device,
        "loader": args.loader,
        **{k: round(v, 4) for k, v in summary(result).items()},
        "steps": int(result.timings["steps"]),
        "train_seconds": round(result.timings["train_seconds"], 3),
    }
    if result.rank == 0:
        report["val_auc"] = result.series["val_auc"][-1][1]
    sys.stdout.flush()
    os.write(sys.stdout.fileno(), (json.dumps(report) + "\n").encode())  # one write: ranks' lines never interleave
    return 0


def _layout(path: str) -> tuple[list[str], list[str], list[int]]:
    """Numeric (float) and categorical (int) columns of a shard; cardinalities from the data (max + 1)."""
    schema = pq.read_schema(path)
    skip = {ROW_ID, LABEL, "atelier_key", "atelier_date"}
    numeric = [f.name for f in schema if f.name not in skip and pa.types.is_floating(f.type)]
    categorical = [f.name for f in schema if f.name not in skip and pa.types.is_integer(f.type)]
    table = pq.ParquetDataset(str(Path(path).parent)).read(columns=categorical)
    cards = [int(pa.compute.max(table.column(c)).as_py()) + 1 for c in categorical]
    return numeric, categorical, cards


if __name__ == "__main__":
    sys.exit(main())
