"""The score job: a date's feature rows scored by every arm into `ml.predictions`, atomically per date.

Each arm's model (resolved from its alias or fixed version once, on the driver) is copied to the
cache folder. One pass over the date's rows applies every arm to whole batches, carrying the key
and date through, so no join puts scores back on their rows; the engine (`scoring.engine`) says
where: `jvm` (default) runs each model as an ONNX graph in the executor JVMs (`jvm_engine`), `python`
loads each pyfunc once per executor Python process and scores Arrow batches in a `mapInArrow`
(vectorized preprocessing, one forward per batch and arm). The champion and the challenger score
every row; `served` marks the arm whose answer counts for a row: the challenger for the rows whose
salted key hash falls in its share, the champion for the rest. Shadows score every row and are
never served. A rerun for the same date (or a backfill) replaces that date's rows and assigns every
row to the same arm.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import numpy as np
import pyarrow as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from atelier.catalog import (
    ARM,
    FEATURES_JSON,
    FEATURES_VERSION,
    MODEL_NAME,
    MODEL_VERSION,
    PREDICTED_LABEL,
    PREDICTION_LOG,
    PREDICTIONS,
    ROLE,
    SCORE,
    SCORE_DATE,
    SCORING_RUN_ID,
    SERVED,
    THRESHOLD,
)
from atelier.config.platform import PlatformConfig
from atelier.config.scoring import ArmConfig, ChallengerArm
from atelier.config.use_case import UseCaseConfig
from atelier.errors import AtelierError
from atelier.model.pyfunc import TabularModel
from atelier.scoring import jvm_engine
from atelier.spark.tables import Lake
from atelier.tracking import registry, store

log = logging.getLogger(__name__)

ARM_INDEX = "arm_index"
_LOADED: dict[str, TabularModel] = {}  # model folder -> model, per executor Python process


class ScoringError(AtelierError):
    """A date that cannot be scored: no features, or a model whose inputs the table lacks."""


@dataclass(frozen=True)
class Arm:
    config: ArmConfig
    model: str
    version: str
    folder: str
    columns: list[str]
    threshold: float


@dataclass
class ScoreReport:
    run_id: str
    rows: dict[str, int] = field(default_factory=dict)
    version: int = -1


def resolve_arms(platform: PlatformConfig, use_case: UseCaseConfig) -> list[Arm]:
    """Each arm's registry version, its model copied under the cache folder, and its input columns.

    The champion must exist; a challenger or shadow whose alias is not assigned yet sits out (the
    champion then serves every row), with a warning.
    """
    store.use_platform(platform)
    model, arms = use_case.model_name, []
    for arm in use_case.scoring.arms:
        version = arm.version
        if not version:
            assert arm.alias is not None  # an arm names an alias or a version (_Arm._one_source)
            version = registry.alias_version(model, arm.alias)
        if version is None and arm.role != "champion":
            log.warning("arm '%s' sits out: model %s has no alias '%s' yet", arm.name, model, arm.alias)
            continue
        if version is None:
            raise ScoringError(
                f"arm '{arm.name}': model {model} has no alias '{arm.alias}' "
                f"(atelier promote --use-case {use_case.name} --version V --alias {arm.alias})"
            )
        registry.check_version(model, version)
        folder = Path(platform.cache_dir).resolve() / "models" / model / str(version)
        if not (folder / "MLmodel").is_file():
            _download(model, str(version), folder)
        columns = mlflow.models.Model.load(str(folder / "MLmodel")).get_input_schema().input_names()
        arms.append(Arm(arm, model, str(version), str(folder), columns, _model(str(folder)).threshold))
    return arms


def _download(model: str, version: str, folder: Path) -> None:
    """Copy a registry version to `folder` whole or not at all: into a staging folder, then one rename.

    A job killed mid-download leaves only a staging folder (`.<version>.<id>`), never a `folder` a
    rerun would trust; of two jobs downloading at once, the first rename wins.
    """
    staging = folder.with_name(f".{folder.name}.{uuid.uuid4().hex}")
    mlflow.artifacts.download_artifacts(f"models:/{model}/{version}", dst_path=str(staging))
    try:
        staging.rename(folder)
    except OSError:
        if not (folder / "MLmodel").is_file():
            raise
        shutil.rmtree(staging)  # another job's copy is in place


def assignment(key: str, salt: str) -> Column:
    """A stable number in [0, 1) per entity key and salt: the same on every rerun and backfill."""
    return (F.pmod(F.xxhash64(F.col(key), F.lit(salt)), F.lit(1_000_000)) / F.lit(1_000_000.0)).cast("double")


def scorer(folders: list[str], carry: list[str]):
    """The `mapInArrow` function scoring each batch with every model (loaded once per Python process).

    Yields, per batch and model, the `carry` columns, `arm_index` (the model's position in
    `folders`), `score` and `predicted_label`; see `scored_schema`.
    """

    def score(batches):
        models = [_model(folder) for folder in folders]
        for batch in batches:
            kept = [batch.column(c) for c in carry]
            for index, model in enumerate(models):
                values = model.score(batch)
                yield pa.RecordBatch.from_arrays(
                    [
                        *kept,
                        pa.array(np.full(batch.num_rows, index, dtype=np.int32)),
                        pa.array(values),
                        pa.array(model.label(values).astype(np.float64)),
                    ],
                    names=[*carry, ARM_INDEX, SCORE, PREDICTED_LABEL],
                )

    return score


def scored_schema(frame: DataFrame, carry: list[str]) -> T.StructType:
    """The schema `scorer` yields for `frame`."""
    return T.StructType(
        [frame.schema[c] for c in carry]
        + [
            T.StructField(ARM_INDEX, T.IntegerType()),
            T.StructField(SCORE, T.DoubleType()),
            T.StructField(PREDICTED_LABEL, T.DoubleType()),
        ]
    )


def _model(folder: str) -> TabularModel:
    model = _LOADED.get(folder)
    if model is None:
        model = _LOADED[folder] = TabularModel.from_folder(Path(folder))
    return model


def score_dates(lake: Lake, use_case: UseCaseConfig, start: dt.date, end: dt.date) -> ScoreReport:
    """Score every date of [start, end] with every arm and replace those dates in the predictions table."""
    key, date = use_case.entity.key, use_case.date_column
    features_table = use_case.tables.features
    version = lake.version(features_table)
    features = lake.read(features_table, version).filter(F.col(date).between(F.lit(start), F.lit(end)))
    arms = resolve_arms(lake.platform, use_case)
    for arm in arms:
        missing = sorted(set(arm.columns) - set(features.columns))
        if missing:
            raise ScoringError(
                f"arm '{arm.config.name}' ({arm.model} version {arm.version}) needs columns {missing} "
                f"that {features_table} version {version} does not have; nothing was written"
            )
    present = {r[0] for r in features.select(F.col(date).cast("date")).distinct().collect()}
    wanted = {start + dt.timedelta(days=i) for i in range((end - start).days + 1)}
    if wanted - present:
        raise ScoringError(
            f"{features_table} version {version} has no rows for "
            f"{', '.join(str(d) for d in sorted(wanted - present))}: run the features job first; "
            "nothing was written"
        )
    run_id = uuid.uuid4().hex
    challenger = next((a.config for a in arms if isinstance(a.config, ChallengerArm)), None)
    bucket = assignment(key, use_case.scoring.salt)
    to_challenger = bucket < F.lit(challenger.share if challenger else 0.0)
    base = features.select(
        key, F.col(date).cast("date").alias(SCORE_DATE), *sorted({c for a in arms for c in a.columns})
    )
    carry, folders = [key, SCORE_DATE], [a.folder for a in arms]
    if use_case.scoring.engine == "jvm":
        scored = jvm_engine.score(base, folders, carry)
    else:
        scored = base.mapInArrow(scorer(folders, carry), scored_schema(base, carry))
    index = F.col(ARM_INDEX)

    def per_arm(values: list) -> Column:
        return F.element_at(F.array(*[F.lit(v) for v in values]), index + 1)

    roles = [a.config.role for a in arms]
    served = (
        F.when(per_arm(roles) == "champion", ~to_challenger)
        .when(per_arm(roles) == "challenger", to_challenger)
        .otherwise(F.lit(False))
    )
    predictions = scored.select(
        key,
        SCORE_DATE,
        F.lit(use_case.model_name).alias(MODEL_NAME),
        per_arm([a.version for a in arms]).alias(MODEL_VERSION),
        per_arm([a.config.name for a in arms]).alias(ARM),
        per_arm(roles).alias(ROLE),
        served.alias(SERVED),
        SCORE,
        PREDICTED_LABEL,
        per_arm([a.threshold for a in arms]).cast("double").alias(THRESHOLD),
        F.lit(run_id).alias(SCORING_RUN_ID),
        F.lit(version).alias(FEATURES_VERSION),
        F.current_timestamp().alias("scored_at"),
    ).select(*PREDICTIONS.columns_for(entity=key))  # the contract's columns, in its order
    name = use_case.scoring.predictions_table
    written = lake.replace_dates(
        predictions,
        name,
        SCORE_DATE,
        start,
        end,
        {
            "job": "score",
            "run_id": run_id,
            "use_case": use_case.name,
            "inputs": {features_table: version},
            "arms": {a.config.name: a.version for a in arms},
        },
    ).version
    if use_case.scoring.prediction_log_percent > 0:
        _write_prediction_log(lake, use_case, features, run_id, start, end)
    rows: dict[str, int] = dict(
        lake.read(name, written)
        .filter(F.col(SCORE_DATE).between(F.lit(start), F.lit(end)))
        .groupBy(ARM)
        .count()
        .collect()
    )
    return ScoreReport(run_id=run_id, rows=rows, version=written)


def _write_prediction_log(
    lake: Lake, use_case: UseCaseConfig, features: DataFrame, run_id: str, start: dt.date, end: dt.date
) -> None:
    """A hash-sampled `prediction_log_percent` of the served predictions with their full feature vectors."""
    key, cfg = use_case.entity.key, use_case.scoring
    served = lake.read(cfg.predictions_table).filter(
        F.col(SCORE_DATE).between(F.lit(start), F.lit(end)) & F.col(SERVED) & (F.col(SCORING_RUN_ID) == run_id)
    )
    sampled = served.filter(assignment(key, cfg.salt + "/log") < F.lit(cfg.prediction_log_percent / 100.0))
    logged = sampled.join(features.drop(use_case.date_column), key).withColumn(
        FEATURES_JSON, F.to_json(F.struct(*use_case.feature_columns()))
    )
    lake.replace_dates(
        logged.select(*PREDICTION_LOG.columns_for(entity=key)),
        cfg.prediction_log_table,
        SCORE_DATE,
        start,
        end,
        {"job": "score", "run_id": run_id, "use_case": use_case.name},
    )
