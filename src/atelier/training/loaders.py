"""Batches for the training loop from the encoded Parquet shards: `arrow` (native) or `petastorm`.

Both shard by row group the same way (row group i of the sorted file list goes to rank
i % num_proc), so on every rank they read the same rows per epoch. Every rank takes the same number
of steps per epoch (the largest shard's, in per-rank batches): a rank whose shard runs out starts a
freshly shuffled pass over it, as `DistributedSampler` pads, so collective operations never wait
on a rank that has stopped. Needs only numpy, pyarrow and torch (petastorm only for its loader).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow.parquet as pq
import torch

ROW_ID, LABEL = "atelier_row_id", "atelier_label"  # no leading underscore: petastorm makes namedtuples


@dataclass(frozen=True)
class Columns:
    """The encoded columns a batch is made of."""

    numeric: list[str]
    categorical: list[str]

    @property
    def all(self) -> list[str]:
        return [ROW_ID, LABEL, *self.numeric, *self.categorical]


@dataclass
class Batch:
    numeric: torch.Tensor  # [B, K] float32
    categorical: torch.Tensor  # [B, M] int64
    label: torch.Tensor  # [B] float32
    row_id: torch.Tensor  # [B] int64: identifies the row (a hash of its entity key)

    def __len__(self) -> int:
        return self.label.shape[0]

    def to(self, device: torch.device) -> Batch:
        return Batch(
            *(t.to(device, non_blocking=True) for t in (self.numeric, self.categorical, self.label, self.row_id))
        )


@dataclass(frozen=True)
class RowGroup:
    file: str
    index: int
    rows: int


def row_groups(files: list[str]) -> list[RowGroup]:
    """Every row group of the (sorted) files, in order: the unit both loaders shard by."""
    groups = []
    for path in sorted(files):
        meta = pq.ParquetFile(path).metadata
        groups += [RowGroup(path, i, meta.row_group(i).num_rows) for i in range(meta.num_row_groups)]
    return [g for g in groups if g.rows > 0]


def shard(groups: list[RowGroup], rank: int, size: int) -> list[RowGroup]:
    return [g for i, g in enumerate(groups) if i % size == rank]


def steps_per_epoch(groups: list[RowGroup], size: int, batch_size: int) -> int:
    """The same on every rank: the largest shard's row count in batches."""
    largest = max(sum(g.rows for g in shard(groups, r, size)) for r in range(size))
    return max(1, math.ceil(largest / batch_size))


def pass_seed(seed: int, epoch: int, rank: int, n: int) -> int:
    return zlib.crc32(f"{seed}/{epoch}/{rank}/{n}".encode())


def fixed_steps(make_pass: Callable[[int], Iterator[Batch]], steps: int) -> Iterator[Batch]:
    """Exactly `steps` batches: passes over the shard (pass 0, 1, ...) until enough were taken."""
    produced, n = 0, 0
    while produced < steps:
        empty = True
        for batch in make_pass(n):
            empty = False
            yield batch
            produced += 1
            if produced == steps:
                return
        if empty:
            raise ValueError("this rank's shard of the training set is empty")
        n += 1


class ArrowLoader:
    """Reads this rank's row groups with pyarrow, shuffles group order and rows, slices batches."""

    def __init__(
        self, files: list[str], columns: Columns, rank: int, size: int, batch_size: int, seed: int, shuffle: bool = True
    ) -> None:
        groups = row_groups(files)
        if len(groups) < size:
            raise ValueError(f"{len(groups)} row groups cannot feed {size} processes: write more shards")
        self.columns, self.batch_size, self.seed, self.shuffle, self.rank = columns, batch_size, seed, shuffle, rank
        self.groups = shard(groups, rank, size)
        self.steps = steps_per_epoch(groups, size, batch_size)
        self._files: dict[str, pq.ParquetFile] = {}

    def epoch(self, epoch: int) -> Iterator[Batch]:
        """Exactly `steps` batches, shuffled by (seed, epoch, rank)."""
        return fixed_steps(lambda n: self._pass(pass_seed(self.seed, epoch, self.rank, n)), self.steps)

    def one_pass(self) -> Iterator[Batch]:
        """This rank's shard once, every row exactly once (evaluation)."""
        return self._pass(self.seed)

    def _pass(self, seed: int) -> Iterator[Batch]:
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(self.groups)) if self.shuffle else np.arange(len(self.groups))
        carry: list[np.ndarray] | None = None
        for i in order:
            arrays = self._read(self.groups[i])
            if self.shuffle:
                perm = rng.permutation(len(arrays[0]))
                arrays = [a[perm] for a in arrays]
            if carry is not None:
                arrays = [np.concatenate([c, a]) for c, a in zip(carry, arrays)]
            full = len(arrays[0]) - len(arrays[0]) % self.batch_size
            for start in range(0, full, self.batch_size):
                yield _batch([a[start : start + self.batch_size] for a in arrays])
            carry = [a[full:] for a in arrays]
        if carry is not None and len(carry[0]):
            yield _batch(carry)

    def _read(self, group: RowGroup) -> list[np.ndarray]:
        if group.file not in self._files:
            self._files[group.file] = pq.ParquetFile(group.file)
        table = self._files[group.file].read_row_group(group.index, columns=self.columns.all)
        return _arrays(lambda c: table.column(c).to_numpy(), self.columns, table.num_rows)


def _arrays(get: Callable[[str], np.ndarray], columns: Columns, n: int) -> list[np.ndarray]:
    """[numeric [n, K] float32, categorical [n, M] int64, label [n] float32, row id [n] int64]."""
    numeric = np.empty((n, len(columns.numeric)), dtype=np.float32)
    for j, c in enumerate(columns.numeric):
        numeric[:, j] = get(c)
    categorical = np.empty((n, len(columns.categorical)), dtype=np.int64)
    for j, c in enumerate(columns.categorical):
        categorical[:, j] = get(c)
    return [numeric, categorical, np.asarray(get(LABEL), dtype=np.float32), np.asarray(get(ROW_ID), dtype=np.int64)]


def _batch(arrays: list[np.ndarray]) -> Batch:
    return Batch(*(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays))


class PetastormLoader:
    """Petastorm's batch reader (row groups sharded by rank) and its batched PyTorch loader."""

    def __init__(
        self,
        files: list[str],
        columns: Columns,
        rank: int,
        size: int,
        batch_size: int,
        seed: int,
        shuffle: bool = True,
        workers: int = 2,
    ) -> None:
        groups = row_groups(files)
        self.urls = [f"file://{g}" for g in sorted({g.file for g in groups})]
        self.columns, self.rank, self.size, self.batch_size = columns, rank, size, batch_size
        self.seed, self.shuffle, self.workers = seed, shuffle, workers
        self.steps = steps_per_epoch(groups, size, batch_size)

    def epoch(self, epoch: int) -> Iterator[Batch]:
        """Exactly `steps` batches, shuffled by (seed, epoch, rank)."""
        return fixed_steps(lambda n: self._pass(pass_seed(self.seed, epoch, self.rank, n)), self.steps)

    def one_pass(self) -> Iterator[Batch]:
        """This rank's shard once, every row exactly once (evaluation)."""
        return self._pass(self.seed)

    def _pass(self, seed: int) -> Iterator[Batch]:
        from petastorm import make_batch_reader
        from petastorm.pytorch import BatchedDataLoader

        reader = make_batch_reader(
            self.urls,
            schema_fields=self.columns.all,
            cur_shard=self.rank,
            shard_count=self.size,
            shuffle_row_groups=self.shuffle,
            seed=seed % 2**31,
            num_epochs=1,
            workers_count=self.workers,
        )
        try:
            loader = BatchedDataLoader(
                reader, batch_size=self.batch_size, shuffling_queue_capacity=8 * self.batch_size if self.shuffle else 0
            )
            for item in loader:
                n = len(item[LABEL])
                yield _batch(_arrays(lambda c: item[c].numpy(), self.columns, n))
        finally:
            reader.stop()
            reader.join()


LOADERS = {"arrow": ArrowLoader, "petastorm": PetastormLoader}


def make_loader(
    kind: str,
    files: list[str],
    columns: Columns,
    rank: int,
    size: int,
    batch_size: int,
    seed: int,
    shuffle: bool = True,
) -> ArrowLoader | PetastormLoader:
    return LOADERS[kind](files, columns, rank, size, batch_size, seed, shuffle)


def read_all(files: list[str], columns: Columns) -> Batch:
    """A whole split as one batch (evaluation on the driver): the bare pyarrow read into tensors."""
    table = pq.ParquetDataset(sorted(files)).read(columns=columns.all)
    return _batch(_arrays(lambda c: table.column(c).to_numpy(), columns, table.num_rows))
