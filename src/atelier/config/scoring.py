"""Scheduled batch scoring: the arms (one model per `role`), the engine and the prediction log."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, model_validator

from atelier.config.common import StrictModel, TableName


class _Arm(StrictModel):
    """A model version that scores: a registry alias (`champion`, `challenger`) or a fixed `version`."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    role: str  # the tag: each kind narrows it to its Literal
    alias: str | None = None
    version: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> _Arm:
        if (self.alias is None) == (self.version is None):
            raise ValueError(f"arm '{self.name}': give alias or version (one of them)")
        return self


class ChampionArm(_Arm):
    """The arm that is served (for the rows not sent to the challenger)."""

    role: Literal["champion"]


class ChallengerArm(_Arm):
    """An arm served to `share` of the rows (0 < share < 1), chosen by a hash of the entity key."""

    role: Literal["challenger"]
    share: float = Field(gt=0, lt=1)


class ShadowArm(_Arm):
    """An arm scored for every row, never served."""

    role: Literal["shadow"]


ArmConfig = Annotated[ChampionArm | ChallengerArm | ShadowArm, Field(discriminator="role")]


def _arms(*arms: ArmConfig) -> list[ArmConfig]:
    """A default list of arms (a bare list literal in a lambda is typed by its items' class)."""
    return list(arms)


class ScoringConfig(StrictModel):
    """Scheduled batch scoring: the arms, the assignment salt, the engine (`jvm`: ONNX Runtime in the
    executor JVMs, or `python`: the pyfunc in Python workers; docs/scoring.md) and the sampled prediction log."""

    arms: list[ArmConfig] = Field(
        default_factory=lambda: _arms(ChampionArm(name="champion", role="champion", alias="champion"))
    )
    salt: str = "ab-1"
    # jvm: each arm's model as an ONNX graph run by ONNX Runtime in the executor JVMs (no Python hop);
    # python: each arm's pyfunc in the executors' Python workers (mapInArrow over Arrow batches).
    engine: Literal["jvm", "python"] = "jvm"
    # The first date the daily schedule scores (default: the day after training.window ends); a daily
    # run for an earlier date builds the tables and skips scoring, reconciliation and monitoring.
    start: dt.date | None = None
    prediction_log_percent: float = Field(0.0, ge=0, le=100)
    predictions_table: TableName = "ml.predictions"
    prediction_log_table: TableName = "ml.prediction_log"

    @model_validator(mode="after")
    def _roles(self) -> ScoringConfig:
        roles = [a.role for a in self.arms]
        if roles.count("champion") != 1 or roles.count("challenger") > 1:
            raise ValueError(f"scoring.arms: exactly one champion and at most one challenger, got roles {roles}")
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"scoring.arms: duplicate arm names {names}")
        return self
