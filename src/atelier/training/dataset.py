"""The training set: features joined with known outcomes, split by time, pinned to Delta versions.

`build_training_set` reads the feature table and the outcomes table at fixed Delta versions (the
current ones, or those of a past run), keeps the rows of the training window whose label is known,
splits them by date (train < validation < test, no later day in an earlier split), fits the
preprocessing on train only and writes each split, already encoded, as Parquet shards under the
cache folder. The shards are what the loaders read on every rank; a rerun with the same versions
and settings finds them by fingerprint and reuses them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from atelier.config.common import DateRange
from atelier.config.use_case import UseCaseConfig
from atelier.errors import AtelierError
from atelier.features.normalize import fit_preprocessor
from atelier.model.preprocessor import Preprocessor
from atelier.spark.tables import Lake
from atelier.training.loaders import LABEL, ROW_ID

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
KEY, DATE = "atelier_key", "atelier_date"


class TrainingDataError(AtelierError):
    """The training window cannot give a usable training set (no labels, one class, a missing column)."""


@dataclass(frozen=True)
class Splits:
    train: DateRange
    validation: DateRange
    test: DateRange

    def of(self, name: str) -> DateRange:
        return getattr(self, name)


@dataclass
class TrainingSet:
    """Where each split's encoded shards are, and everything needed to read and reproduce them."""

    root: Path
    splits: Splits
    versions: dict[str, int]
    rows: dict[str, int]
    positives: dict[str, int]
    numeric: list[str]
    categorical: list[str]
    preprocessor: Preprocessor
    label_scale: tuple[float, float] = (0.0, 1.0)
    fingerprint: str = ""
    raw: dict[str, DataFrame] = field(default_factory=dict, repr=False)
    labeled: DataFrame | None = field(default=None, repr=False)

    def files(self, split: str) -> list[str]:
        return sorted(str(p) for p in (self.root / split).glob("*.parquet"))

    def release(self) -> None:
        """Drop the cached joined frame behind `raw`."""
        if self.labeled is not None:
            self.labeled.unpersist()


def split_window(window: DateRange, validation_days: int, test_days: int) -> Splits:
    """The last `test_days` of the window are test, the `validation_days` before them validation."""
    test_start = window.end - dt.timedelta(days=test_days - 1)
    val_start = test_start - dt.timedelta(days=validation_days)
    if val_start <= window.start:
        raise TrainingDataError(
            f"training window {window.start}..{window.end} is too short for {validation_days} validation "
            f"and {test_days} test days: nothing would be left to train on"
        )
    return Splits(
        train=DateRange(start=window.start, end=val_start - dt.timedelta(days=1)),
        validation=DateRange(start=val_start, end=test_start - dt.timedelta(days=1)),
        test=DateRange(start=test_start, end=window.end),
    )


def labeled_frame(lake: Lake, use_case: UseCaseConfig, versions: dict[str, int], window: DateRange) -> DataFrame:
    """Feature rows of the window joined with their outcomes at the pinned versions; label known only."""
    features_name, outcomes_name = use_case.tables.features, use_case.tables.outcomes
    features = lake.read(features_name, versions[features_name])
    outcomes = lake.read(outcomes_name, versions[outcomes_name])
    missing = [c for c in use_case.model_columns() if c not in features.columns]
    if missing:
        raise TrainingDataError(
            f"feature columns {missing} are missing from {features_name} (version {versions[features_name]}): "
            "rebuild the feature table with the features job, or remove them from the use case's features"
        )
    key, date = use_case.entity.key, use_case.date_column
    in_window = F.col(date).between(F.lit(window.start), F.lit(window.end))
    labels = outcomes.select(key, F.expr(use_case.label.expr).cast("double").alias(LABEL)).dropDuplicates([key])
    return (
        features.filter(in_window)
        .join(labels, key, "inner")
        .filter(F.col(LABEL).isNotNull() & ~F.isnan(LABEL))
        .select(F.col(key).alias(KEY), F.col(date).cast("date").alias(DATE), F.col(LABEL), *use_case.model_columns())
    )


def build_training_set(
    lake: Lake,
    use_case: UseCaseConfig,
    versions: dict[str, int] | None = None,
) -> TrainingSet:
    """Materialize the encoded, time-split training set for `use_case` (see the module docstring)."""
    cfg = use_case.training
    if cfg.window is None:
        raise TrainingDataError(f"use case {use_case.name}: training.window (start, end) is not set")
    names = [use_case.tables.features, use_case.tables.outcomes]
    versions = dict(versions) if versions else {n: lake.version(n) for n in names}
    splits = split_window(cfg.window, cfg.split.validation_days, cfg.split.test_days)
    # Counted, fit on, encoded, profiled and sampled: joined once, kept until `TrainingSet.release`.
    frame = labeled_frame(lake, use_case, versions, cfg.window).persist(StorageLevel.MEMORY_AND_DISK)
    raw = {s: frame.filter(F.col(DATE).between(F.lit(splits.of(s).start), F.lit(splits.of(s).end))) for s in SPLITS}
    rows, positives = _count(frame, splits, use_case.label.task == "binary")
    try:
        _check_usable(use_case, cfg.window, versions, rows, positives)
    except TrainingDataError:
        frame.unpersist()
        raise

    numeric, categorical = use_case.model_columns("numeric"), use_case.model_columns("categorical")
    fingerprint = _fingerprint(use_case, versions, splits)
    root = Path(lake.platform.cache_dir).resolve() / "training" / use_case.name / fingerprint
    preprocessor_file = root / "preprocessor.json"
    if preprocessor_file.is_file():
        saved = json.loads(preprocessor_file.read_text())
        preprocessor, label_scale = Preprocessor.from_dict(saved["preprocessor"]), tuple(saved["label_scale"])
        log.info("training set %s: reusing the encoded shards under %s", fingerprint, root)
    else:
        preprocessor = fit_preprocessor(raw["train"], numeric, categorical, cfg.max_categories)
        label_scale = _label_scale(raw["train"], use_case.label.task)
        _write_shards(raw, root, preprocessor, label_scale, cfg.shards)
    return TrainingSet(
        root=root,
        splits=splits,
        versions=versions,
        rows=rows,
        positives=positives,
        numeric=numeric,
        categorical=categorical,
        preprocessor=preprocessor,
        label_scale=label_scale,
        fingerprint=fingerprint,
        raw=raw,
        labeled=frame,
    )


def _count(frame: DataFrame, splits: Splits, binary: bool) -> tuple[dict[str, int], dict[str, int]]:
    split = (
        F.when(F.col(DATE) < F.lit(splits.validation.start), "train")
        .when(F.col(DATE) < F.lit(splits.test.start), "validation")
        .otherwise("test")
    )
    agg = (
        frame.groupBy(split.alias("split"))
        .agg(F.count("*").alias("n"), F.sum(F.col(LABEL) if binary else F.lit(0)).alias("pos"))
        .collect()
    )
    found = {r["split"]: (int(r["n"]), int(r["pos"] or 0)) for r in agg}
    return {s: found.get(s, (0, 0))[0] for s in SPLITS}, {s: found.get(s, (0, 0))[1] for s in SPLITS}


def _check_usable(
    use_case: UseCaseConfig, window: DateRange, versions: dict[str, int], rows: dict[str, int], pos: dict[str, int]
) -> None:
    where = (
        f"use case {use_case.name}, window {window.start}..{window.end}, {use_case.tables.outcomes} "
        f"version {versions[use_case.tables.outcomes]}"
    )
    empty = [s for s in SPLITS if rows[s] == 0]
    if empty:
        raise TrainingDataError(
            f"{where}: no labeled rows in the {', '.join(empty)} split(s) ({rows}); are the outcomes of those "
            "dates collected (the collect job writes them outcome_delay_days after each date)?"
        )
    if use_case.label.task == "binary":
        single = [s for s in ("train", "validation") if pos[s] in (0, rows[s])]
        if single:
            cls = {s: "all positive" if pos[s] == rows[s] else "all negative" for s in single}
            raise TrainingDataError(
                f"{where}: label '{use_case.label.name}' has a single class in {cls}: a binary model needs both"
            )


def _label_scale(train: DataFrame, task: str) -> tuple[float, float]:
    """Regression labels are standardized for training: their mean and standard deviation on train."""
    if task != "regression":
        return (0.0, 1.0)
    row = train.agg(F.mean(LABEL), F.stddev_pop(LABEL)).collect()[0]
    return (float(row[0]), float(row[1]) or 1.0)


def _fingerprint(use_case: UseCaseConfig, versions: dict[str, int], splits: Splits) -> str:
    cfg = use_case.training
    spec = {
        "versions": versions,
        "splits": [str(splits.of(s).start) + str(splits.of(s).end) for s in SPLITS],
        # `cyclic: None` on a categorical feature: the hash of the one-model-per-feature config before it had kinds,
        # so that prepared sets and the runs' data.fingerprint stay the same for the same data
        "features": [{"cyclic": None, **f.model_dump()} for f in use_case.features],
        "columns": use_case.model_columns(),
        "label": use_case.label.model_dump(),
        "max_categories": cfg.max_categories,
        "shards": cfg.shards,
        "format": 2,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


def encoded_schema(preprocessor: Preprocessor) -> T.StructType:
    fields = [
        T.StructField(KEY, T.StringType()),
        T.StructField(DATE, T.DateType()),
        T.StructField(ROW_ID, T.LongType()),
        T.StructField(LABEL, T.FloatType()),
    ]
    fields += [T.StructField(c, T.FloatType()) for c in preprocessor.numeric]
    fields += [T.StructField(c, T.IntegerType()) for c in preprocessor.vocab]
    return T.StructType(fields)


def _write_shards(
    raw: dict[str, DataFrame], root: Path, preprocessor: Preprocessor, label_scale: tuple[float, float], shards: int
) -> None:
    """Encode each split with the fitted preprocessor and write it as `shards` Parquet files of about equal size.

    Rows go to shards by a hash of their key and are sorted by key inside a shard, so the files
    (and a seeded epoch over them) are the same on every rerun. Written to a temporary folder and
    renamed, so a crash never leaves a half-written set that a rerun would reuse.
    """
    schema = encoded_schema(preprocessor)

    def encode(batches):
        for pdf in batches:
            num, cat = preprocessor.transform(pdf)
            out = pd.DataFrame(
                {KEY: pdf[KEY], DATE: pdf[DATE], ROW_ID: pdf[ROW_ID], LABEL: pdf[LABEL].astype("float32")}
            )
            for j, column in enumerate(preprocessor.numeric):
                out[column] = num[:, j]
            for j, column in enumerate(preprocessor.vocab):
                out[column] = cat[:, j].astype("int32")
            yield out

    staging = root.with_name(root.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    for split, df in raw.items():
        (
            df.withColumn(ROW_ID, F.xxhash64(KEY))
            .repartition(shards, ROW_ID)
            .sortWithinPartitions(KEY)
            .mapInPandas(encode, schema)
            .write.option("compression", "snappy")
            .parquet(str(staging / split))
        )
    payload = {"preprocessor": preprocessor.to_dict(), "label_scale": label_scale}
    (staging / "preprocessor.json").write_text(json.dumps(payload))
    root.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)
