"""Training dynamics per layer: activations, gradients, parameter updates and the update-to-weight ratio.

Recorded every N steps on rank 0 only; between those steps the hooks cost one flag check.
Series are `{metric name: [(step, value), ...]}`, logged to MLflow as metric histories.
"""

from __future__ import annotations

from collections import defaultdict

import torch
from torch import nn

LAYER_TYPES = (nn.Linear, nn.Embedding)


class DynamicsRecorder:
    def __init__(self, model: nn.Module) -> None:
        self.layers = {name: module for name, module in model.named_modules() if isinstance(module, LAYER_TYPES)}
        self.series: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self._active = False
        self._step = 0
        self._before: dict[str, torch.Tensor] = {}
        for name, module in self.layers.items():
            module.register_forward_hook(self._hook(name))

    def _hook(self, name: str):
        def record(_module: nn.Module, _inputs, output: torch.Tensor) -> None:
            if self._active:
                out = output.detach().float()
                self._add(name, "activation_mean", out.mean())
                self._add(name, "activation_var", out.var(unbiased=False))

        return record

    @property
    def recording(self) -> bool:
        return self._active

    def begin(self, step: int) -> None:
        """Arm the hooks for this step's forward pass and remember the weights before the update."""
        self._active, self._step = True, step
        self._before = {name: m.weight.detach().clone() for name, m in self.layers.items()}

    def end(self) -> None:
        """After the optimizer step: gradient and update statistics per layer."""
        for name, module in self.layers.items():
            weight = module.weight.detach()
            if module.weight.grad is not None:
                grad = module.weight.grad.detach().float()
                self._add(name, "gradient_mean", grad.mean())
                self._add(name, "gradient_var", grad.var(unbiased=False))
            update = (weight - self._before[name]).float()
            self._add(name, "update_mean", update.mean())
            self._add(name, "update_var", update.var(unbiased=False))
            self._add(name, "update_to_weight", update.norm() / (weight.float().norm() + 1e-12))
        self._active = False
        self._before = {}

    def _add(self, layer: str, stat: str, value: torch.Tensor) -> None:
        self.series[f"dynamics/{layer}/{stat}"].append((self._step, float(value)))
