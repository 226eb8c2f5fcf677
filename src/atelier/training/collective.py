"""How ranks cooperate, one interface for the three backends: local, Horovod, torch.distributed.

Each collective knows its rank and size, the device this rank trains on (its local GPU when
`use_gpu`), how to make a model and optimizer distributed (parameters broadcast from rank 0,
gradients averaged), and how to sum a tensor across ranks (for metrics).
"""

from __future__ import annotations

import gc
import os

import torch
from torch import nn


class LocalCollective:
    """One process: nothing to synchronize."""

    def __init__(self, use_gpu: bool = False) -> None:
        self.rank, self.size, self.local_rank = 0, 1, 0
        self.device = _device(use_gpu, 0)

    def wrap(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[nn.Module, torch.optim.Optimizer]:
        return model, optimizer

    def allreduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor

    def shutdown(self) -> None:
        """Nothing to release."""


class HorovodCollective(LocalCollective):
    """Horovod (gloo on CPU, NCCL when built with it): DistributedOptimizer, broadcast from rank 0."""

    def __init__(self, use_gpu: bool = False) -> None:
        import horovod.torch as hvd

        if use_gpu and not hvd.nccl_built():
            raise RuntimeError(
                "training.use_gpu with backend horovod needs a Horovod built with GPU operations "
                "(HOROVOD_GPU_OPERATIONS=NCCL); this build has CPU (gloo) operations only. "
                "Use backend torch_distributor (NCCL) or rebuild Horovod on the GPU machines"
            )
        hvd.init()
        self.hvd = hvd
        self.rank, self.size, self.local_rank = hvd.rank(), hvd.size(), hvd.local_rank()
        self.device = _device(use_gpu, self.local_rank)

    def wrap(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[nn.Module, torch.optim.Optimizer]:
        self.hvd.broadcast_parameters(model.state_dict(), root_rank=0)
        self.hvd.broadcast_optimizer_state(optimizer, root_rank=0)
        return model, self.hvd.DistributedOptimizer(optimizer, named_parameters=model.named_parameters())

    def allreduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        return self.hvd.allreduce(tensor.cpu(), op=self.hvd.Sum)

    def shutdown(self) -> None:
        self.hvd.shutdown()


class TorchCollective(LocalCollective):
    """torch.distributed from the environment torchrun (or TorchDistributor) sets: DDP, gloo or NCCL."""

    def __init__(self, use_gpu: bool = False) -> None:
        import torch.distributed as dist

        self.dist = dist
        self.local_rank = int(os.environ.get("LOCAL_RANK", 0))
        self.device = _device(use_gpu, self.local_rank)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        self.rank, self.size = dist.get_rank(), dist.get_world_size()

    def wrap(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[nn.Module, torch.optim.Optimizer]:
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids), optimizer

    def allreduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        tensor = tensor.to(self.device)
        self.dist.all_reduce(tensor)
        return tensor.cpu()

    def shutdown(self) -> None:
        if self.dist.is_initialized():
            # DDP's reducer sits in reference cycles: freed now, while its process group is alive, not at
            # interpreter exit after the group is gone (a SIGABRT there: "terminate called without an active exception")
            gc.collect()
            self.dist.barrier()  # no rank tears the group down while another still uses it
            self.dist.destroy_process_group()


def _device(use_gpu: bool, local_rank: int) -> torch.device:
    if not use_gpu:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError("training.use_gpu is true but this process sees no CUDA device")
    device = torch.device("cuda", local_rank % torch.cuda.device_count())
    torch.cuda.set_device(device)
    return device


COLLECTIVES = {"local": LocalCollective, "horovod": HorovodCollective, "torch": TorchCollective}
