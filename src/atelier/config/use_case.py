"""The use case, root of its configuration: what it builds from which sources, and where it lands."""

from __future__ import annotations

from pydantic import Field, model_validator

from atelier.config.cleaning import CleanConfig
from atelier.config.common import DateRange, Identifier, StrictModel, TableName
from atelier.config.features import FeatureConfig, LabelConfig
from atelier.config.monitoring import MonitoringConfig
from atelier.config.scoring import ScoringConfig
from atelier.config.sources import EntityConfig, SourceConfig
from atelier.config.training import PromotionConfig, TrainingConfig
from atelier.config.validation import ValidationConfig


class TablesConfig(StrictModel):
    silver: TableName
    features: TableName
    outcomes: TableName


class UseCaseConfig(StrictModel):
    """A use case: sources, cleaning and joins, features, label, and the tables they land in."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    entity: EntityConfig
    date_column: str
    event_time: str
    outcome_delay_days: int = Field(1, ge=0)
    data_range: DateRange | None = None
    sources: dict[Identifier, SourceConfig] = Field(min_length=1)  # a source name is its bronze table's
    clean: CleanConfig
    features: list[FeatureConfig] = Field(min_length=1)
    label: LabelConfig
    tables: TablesConfig
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    promotion: PromotionConfig = Field(default_factory=PromotionConfig)
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)

    @model_validator(mode="after")
    def _references(self) -> UseCaseConfig:
        primary = self.sources.get(self.clean.primary)
        if primary is None:
            raise ValueError(f"clean.primary '{self.clean.primary}' is not a source")
        if primary.kind != "events":
            raise ValueError(f"clean.primary '{self.clean.primary}' must be an 'events' source")
        missing_key = [c for c in self.entity.natural_key if c not in primary.columns]
        if missing_key:
            raise ValueError(f"entity.natural_key {missing_key} are not columns of source '{self.clean.primary}'")
        stray = [n for n, s in self.sources.items() if s.outcome_columns and n != self.clean.primary]
        if stray:
            raise ValueError(f"sources {stray}: outcome_columns belong on the primary source only")
        for i, join in enumerate(self.clean.joins):
            if join.source not in self.sources:
                raise ValueError(f"clean.joins.{i}.source '{join.source}' is not a source")
        unknown = sorted(set(self.validation.tables) - set(self.sources) - {"silver", "features"})
        if unknown:
            raise ValueError(f"validation.tables {unknown}: expected source names, 'silver' or 'features'")
        names = [c for f in self.features for c in f.output_columns()]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"features: duplicate output columns {dupes}")
        unknown = sorted(set(self.training.exclude_features) - {f.name for f in self.features})
        if unknown:
            raise ValueError(f"training.exclude_features {unknown} are not features of the use case")
        return self

    @property
    def model_name(self) -> str:
        """The registered model's name: `training.registered_model`, else the use case's name."""
        return self.training.registered_model or self.name

    @property
    def primary(self) -> SourceConfig:
        return self.sources[self.clean.primary]

    def feature_columns(self, kind: str | None = None) -> list[str]:
        """The feature table's feature columns (of one `kind`: numeric or categorical)."""
        return [c for f in self.features if kind in (None, f.type) for c in f.output_columns()]

    def model_columns(self, kind: str | None = None) -> list[str]:
        """The feature columns the model takes: all but `training.exclude_features`."""
        excluded = set(self.training.exclude_features)
        return [
            c for f in self.features if kind in (None, f.type) and f.name not in excluded for c in f.output_columns()
        ]
