"""The model zoo: tabular networks over standardized numerics and category indices, by name.

Every model takes `(numeric [B, K] float32, categorical [B, M] int64)` and returns one raw output
per row: a logit for a binary label, a standardized value for regression. Needs only torch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class ModelSpec:
    """What it takes to rebuild a network: the zoo name, its parameters and the input layout."""

    name: str
    task: str
    numeric: list[str]
    categorical: list[str]
    cardinalities: list[int]
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TabularMLP(nn.Module):
    """Categorical embeddings concatenated with the numerics, then ReLU layers with dropout."""

    def __init__(
        self, spec: ModelSpec, hidden: tuple[int, ...] = (128, 64), embedding_dim: int = 8, dropout: float = 0.1
    ) -> None:
        super().__init__()
        self.embeddings = nn.ModuleList(
            nn.Embedding(card, min(embedding_dim, max(2, round(1.6 * card**0.56)))) for card in spec.cardinalities
        )
        width = len(spec.numeric) + sum(e.embedding_dim for e in self.embeddings)
        layers: list[nn.Module] = []
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, 1)

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        parts = [numeric] + [emb(categorical[:, i]) for i, emb in enumerate(self.embeddings)]
        return self.head(self.body(torch.cat(parts, dim=1))).squeeze(1)


class GeneralizedLinear(nn.Module):
    """Logistic regression (binary) or linear regression: one weight per numeric and per category."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.numeric = nn.Linear(len(spec.numeric), 1)
        self.categories = nn.ModuleList(nn.Embedding(card, 1) for card in spec.cardinalities)
        # A generalized linear model starts at "no effect": the base rate (binary) or the mean (regression).
        nn.init.zeros_(self.numeric.weight)
        for emb in self.categories:
            nn.init.zeros_(emb.weight)

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        out = self.numeric(numeric).squeeze(1)
        for i, emb in enumerate(self.categories):
            out = out + emb(categorical[:, i]).squeeze(1)
        return out


ZOO = {"mlp": TabularMLP, "linear": GeneralizedLinear}


def build_model(spec: ModelSpec) -> nn.Module:
    """The zoo's network for `spec`; unknown hyperparameters are an error naming the model."""
    cls = ZOO[spec.name]
    params = dict(spec.params)
    if "hidden" in params:
        params["hidden"] = tuple(params["hidden"])
    try:
        return cls(spec, **params)
    except TypeError as exc:
        raise ValueError(f"model '{spec.name}': bad params {spec.params}: {exc}") from None


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def output_to_score(output: torch.Tensor, task: str, label_scale: tuple[float, float]) -> torch.Tensor:
    """A probability for a binary label, the value in label units for regression."""
    if task == "binary":
        return torch.sigmoid(output)
    mean, std = label_scale
    return output * std + mean


def loss_function(task: str) -> nn.Module:
    return nn.BCEWithLogitsLoss() if task == "binary" else nn.MSELoss()


def initial_bias(model: nn.Module, task: str, positive_rate: float) -> None:
    """Start a binary model at the base rate's log-odds, so early steps learn signal, not the prior."""
    if task != "binary" or not 0 < positive_rate < 1:
        return
    head = model.head if isinstance(model, TabularMLP) else model.numeric
    with torch.no_grad():
        head.bias.fill_(math.log(positive_rate / (1 - positive_rate)))
