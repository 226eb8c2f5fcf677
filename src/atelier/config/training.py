"""How a use case trains (window, split, model, backend) and when a candidate is promoted."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from atelier.config.common import DateRange, StrictModel


class ModelConfig(StrictModel):
    """A model of the zoo by name (`mlp`, `linear`) and its hyperparameters (see atelier.model.networks)."""

    name: Literal["mlp", "linear"] = "mlp"
    params: dict[str, Any] = Field(default_factory=dict)


class SplitConfig(StrictModel):
    """Split the training window by time: the last `test_days` are test, the `validation_days` before validation."""

    validation_days: int = Field(14, ge=1)
    test_days: int = Field(14, ge=1)


class TrainingConfig(StrictModel):
    """How a use case trains: window and split, model, loader, backend and their hyperparameters.

    `batch_size` is the global batch: each of `num_proc` processes takes its share, so the optimization
    is the same on a laptop and on a cluster. `parallel_trials` is how many trials of a sweep train at
    once: threads of the sweep job, each with its own Spark jobs and MLflow run in the same store.
    """

    window: DateRange | None = None
    split: SplitConfig = Field(default_factory=SplitConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    loader: Literal["arrow", "petastorm"] = "arrow"
    backend: Literal["local", "horovod", "torch_distributor"] = "local"
    num_proc: int = Field(1, ge=1)
    use_gpu: bool = False
    epochs: int = Field(5, ge=1)
    batch_size: int = Field(1024, ge=1)
    learning_rate: float = Field(2e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    seed: int = 13
    threshold: float = Field(0.5, gt=0, lt=1)
    log_every_steps: int = Field(20, ge=1)
    dynamics_every_steps: int = Field(50, ge=1)
    max_categories: int = Field(1000, ge=1)
    shards: int = Field(16, ge=1)
    start_timeout_s: int = Field(120, ge=10)
    registered_model: str | None = None
    importance_repeats: int = Field(1, ge=1)
    exclude_features: list[str] = Field(default_factory=list)
    parallel_trials: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _enough_shards(self) -> TrainingConfig:
        if self.shards < self.num_proc:
            raise ValueError(
                f"shards ({self.shards}) must be at least num_proc ({self.num_proc}): each process reads whole shards"
            )
        return self


class PromotionConfig(StrictModel):
    """The promotion gate: a candidate replaces the champion only if it wins by every margin.

    `margins` maps a metric to the least improvement required (higher-is-better metrics must rise
    by it, lower-is-better ones fall by it); the paired bootstrap gives each difference a
    `confidence` interval over `bootstrap_samples` resamples of the held-out rows. The held-out
    window is `window`, else the candidate's own test days.
    """

    margins: dict[str, float] = Field(default_factory=lambda: {"auc": 0.0, "log_loss": 0.0})
    bootstrap_samples: int = Field(200, ge=10)
    confidence: float = Field(0.95, gt=0.5, lt=1)
    window: DateRange | None = None
    seed: int = 13
