"""The gold table: its features (one model per `type`, numeric by default) and the label."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from atelier.config.common import StrictModel


class _Feature(StrictModel):
    name: str
    type: str  # the tag: each kind narrows it to its Literal
    expr: str | None = None
    builtin: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_form(self) -> _Feature:
        if self.builtin and self.expr:
            raise ValueError(f"feature '{self.name}': give 'expr' or 'builtin', not both")
        return self

    def output_columns(self) -> list[str]:
        return [self.name]


class NumericFeature(_Feature):
    """A numeric feature (the default `type`); see conf/base/use_cases/flights_delay.yaml for the forms.
    `cyclic` (a period) encodes it as the two columns `<name>_sin` and `<name>_cos`."""

    type: Literal["numeric"] = "numeric"
    cyclic: float | None = Field(None, gt=0)

    def output_columns(self) -> list[str]:
        if self.cyclic:
            return [f"{self.name}_sin", f"{self.name}_cos"]
        return super().output_columns()


class CategoricalFeature(_Feature):
    """A categorical feature: its values as text, encoded by the model's vocabulary."""

    type: Literal["categorical"]


def _numeric_by_default(value: object) -> object:
    """A feature without `type` is numeric (the tag must be there to choose the model)."""
    return {"type": "numeric", **value} if isinstance(value, dict) else value


FeatureConfig = Annotated[
    NumericFeature | CategoricalFeature, Field(discriminator="type"), BeforeValidator(_numeric_by_default)
]


class LabelConfig(StrictModel):
    name: str
    task: Literal["binary", "regression"]
    expr: str
