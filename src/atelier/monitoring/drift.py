"""Drift: each scored day's features and served scores against the champion's reference profile.

Date D stands for the rows of the `monitoring.drift_window_days` ending on D (a trailing window,
so a feature that is constant within a day, such as the weekday, is judged on a week of it): the
bins are counted per day and the windows summed from the daily counts. Per day and feature: PSI over the reference bins (the training deciles, or the top categories plus
`<other>`, nulls as one more bin), the KS statistic for numeric features (the largest gap between
the two cumulative distributions at the reference decile edges, so a lower bound of the exact
statistic) and chi-square with its p-value for categorical ones; the champion's score
distribution is compared with its test window's the same way. Every feature of every day is
counted in one Spark pass (`profile.bucket_counts`); the statistics are computed from the counts.
Written to `ml.feature_drift`, replaced per date.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from scipy import special

from atelier.catalog import (
    FEATURE,
    FEATURE_DRIFT,
    FEATURES_VERSION,
    IMPORTANCE_RANK,
    KIND,
    MODEL_NAME,
    MODEL_VERSION,
    PSI,
    ROLE,
    SCORE_DATE,
)
from atelier.config.use_case import UseCaseConfig
from atelier.monitoring.reference import Reference, load_reference
from atelier.spark.tables import Lake
from atelier.tracking import store
from atelier.tracking.profile import NULL, OTHER, Counts, bucket_counts

log = logging.getLogger(__name__)

SCORE = "score"  # the feature name the score distribution's rows carry
EPSILON = 1e-4  # share given to an empty bin, so PSI stays finite


@dataclass(frozen=True)
class Drift:
    feature: str
    kind: str  # numeric | categorical | score
    rows: int
    psi: float
    ks: float | None
    chi2: float | None
    chi2_p: float | None
    null_share: float


def compare(feature: str, reference: dict, found: dict[str, int], kind: str) -> Drift | None:
    """One feature's drift statistics from its bucket counts (None when nothing was counted)."""
    rows = sum(found.values())
    if rows == 0:
        return None
    ref = np.append(np.asarray(reference["shares"], dtype=np.float64), reference.get("null_share", 0.0))
    if reference["type"] == "categorical":
        bins = reference["bins"]
        other = sum(v for k, v in found.items() if k not in bins and k != NULL)
        counted = [found.get(b, 0) for b in bins[:-1]] + [found.get(OTHER, 0) + other]
    else:
        counted = [found.get(str(i), 0) for i in range(len(reference["shares"]))]
    observed = np.append(np.asarray(counted, dtype=np.float64), found.get(NULL, 0))
    current, expected = _smooth(observed / rows), _smooth(ref)
    psi = float(np.sum((current - expected) * np.log(current / expected)))
    ks = chi2 = chi2_p = None
    if reference["type"] == "numeric":
        valued = observed[:-1].sum()
        if valued and ref[:-1].sum():
            ks = float(np.max(np.abs(np.cumsum(observed[:-1]) / valued - np.cumsum(ref[:-1]) / ref[:-1].sum())))
    else:
        # scipy.stats.chisquare's statistic and p-value, without its per-call overhead (~0.2 ms, 2,300 calls a quarter)
        chi2 = float(np.sum((observed - expected * rows) ** 2 / (expected * rows)))
        chi2_p = float(special.chdtrc(len(observed) - 1, chi2))
    return Drift(
        feature=feature,
        kind=kind,
        rows=rows,
        psi=psi,
        ks=ks,
        chi2=chi2,
        chi2_p=chi2_p,
        null_share=float(observed[-1] / rows),
    )


def feature_drift(
    frame: DataFrame, by: str, reference: dict[str, dict], features: list[str], window_days: int = 1
) -> dict[dt.date, list[Drift]]:
    """Drift of `features` per value of `by` (a date) against their reference entries, in one Spark pass;
    with `window_days` > 1, each date's figures cover the trailing window ending on it."""
    numeric = {f: reference[f]["edges"] for f in features if reference[f]["type"] == "numeric"}
    categorical = [f for f in features if reference[f]["type"] == "categorical"]
    return _per_group(rolling(bucket_counts(frame, numeric, categorical, [by]), window_days), reference, features)


def rolling(daily: dict[tuple, Counts], days: int) -> dict[tuple, Counts]:
    """Each date's counts summed over the trailing `days`-day window ending on it (from the daily counts)."""
    if days == 1:
        return daily
    out: dict[tuple, Counts] = {}
    for (day,) in daily:
        merged: Counts = {}
        for back in range(days):
            for feature, buckets in daily.get((day - dt.timedelta(days=back),), {}).items():
                into = merged.setdefault(feature, {})
                for bucket, rows in buckets.items():
                    into[bucket] = into.get(bucket, 0) + rows
        out[(day,)] = merged
    return out


def drift(lake: Lake, use_case: UseCaseConfig, start: dt.date, end: dt.date) -> int:
    """Compute and replace `ml.feature_drift` for [start, end]; the table's new version."""
    store.use_platform(lake.platform)
    window = use_case.monitoring.drift_window_days
    back = dt.timedelta(days=window - 1)
    champion = lake.read(use_case.scoring.predictions_table).filter(
        F.col(SCORE_DATE).between(F.lit(start - back), F.lit(end)) & (F.col(ROLE) == "champion")
    )
    versions = (
        champion.filter(F.col(SCORE_DATE) >= F.lit(start))
        .groupBy(MODEL_VERSION)
        .agg(F.collect_set(SCORE_DATE).alias("dates"), F.max(FEATURES_VERSION).alias(FEATURES_VERSION))
        .collect()
    )
    if not versions:
        log.warning("no champion predictions for %s..%s: no drift to compute", start, end)
    run_id, rows = uuid.uuid4().hex, []
    for group in versions:  # the champion that scored each date; its reference judges the date's window
        reference = load_reference(use_case.model_name, group.model_version)
        features = [f for f in use_case.model_columns() if f in reference.features]
        dates = set(group.dates)
        days = F.col(use_case.date_column).cast("date")
        frame = (
            lake.read(use_case.tables.features, group.features_version)
            .filter(days.between(F.lit(min(dates) - back), F.lit(max(dates))))
            .withColumn(SCORE_DATE, days)
        )
        found = feature_drift(frame, SCORE_DATE, reference.features, features, window)
        if reference.score is not None:
            scores = rolling(bucket_counts(champion, {SCORE: reference.score["edges"]}, [], [SCORE_DATE]), window)
            for day, drifts in _per_group(scores, {SCORE: reference.score}, [SCORE]).items():
                found.setdefault(day, []).extend(drifts)
        rows += _rows(
            use_case, reference, {d: v for d, v in found.items() if d in dates}, group.features_version, run_id
        )
    frame = (
        lake.spark.createDataFrame(rows, _SCHEMA)
        .withColumn("computed_at", F.current_timestamp())
        .select(*FEATURE_DRIFT.columns)  # the contract's columns, in its order
    )
    return lake.replace_dates(
        frame,
        use_case.monitoring.drift_table,
        SCORE_DATE,
        start,
        end,
        {"job": "drift", "run_id": run_id, "use_case": use_case.name},
    ).version


def _per_group(
    counts: dict[tuple, Counts], reference: dict[str, dict], features: list[str]
) -> dict[dt.date, list[Drift]]:
    out: dict[dt.date, list[Drift]] = {}
    for (day,), per_feature in counts.items():
        for feature in features:
            kind = SCORE if feature == SCORE else reference[feature]["type"]
            found = compare(feature, reference[feature], per_feature.get(feature, {}), kind)
            if found is not None:
                out.setdefault(day, []).append(found)
    return out


def _smooth(shares: np.ndarray) -> np.ndarray:
    shares = np.maximum(shares, EPSILON)
    return shares / shares.sum()


_SCHEMA = T.StructType(
    [
        T.StructField(SCORE_DATE, T.DateType()),
        T.StructField(MODEL_NAME, T.StringType()),
        T.StructField(MODEL_VERSION, T.StringType()),
        T.StructField(FEATURE, T.StringType()),
        T.StructField(KIND, T.StringType()),
        T.StructField(IMPORTANCE_RANK, T.IntegerType()),
        T.StructField("importance", T.DoubleType()),
        T.StructField("rows", T.LongType()),
        T.StructField(PSI, T.DoubleType()),
        T.StructField("ks", T.DoubleType()),
        T.StructField("chi2", T.DoubleType()),
        T.StructField("chi2_p", T.DoubleType()),
        T.StructField("null_share", T.DoubleType()),
        T.StructField("reference_null_share", T.DoubleType()),
        T.StructField(FEATURES_VERSION, T.LongType()),
        T.StructField("drift_run_id", T.StringType()),
    ]
)


def _rows(
    use_case: UseCaseConfig, reference: Reference, found: dict[dt.date, list[Drift]], features_version: int, run_id: str
) -> list[tuple]:
    rank = {f: i + 1 for i, f in enumerate(reference.important(len(reference.features)))}
    out = []
    for day, drifts in found.items():
        for d in drifts:
            ref = reference.score if d.feature == SCORE else reference.features[d.feature]
            assert ref is not None  # score drift is computed only where the reference has a score profile
            out.append(
                (
                    day,
                    use_case.model_name,
                    reference.version,
                    d.feature,
                    d.kind,
                    rank.get(d.feature),
                    reference.importance.get(d.feature),
                    d.rows,
                    d.psi,
                    d.ks,
                    d.chi2,
                    d.chi2_p,
                    d.null_share,
                    float(ref.get("null_share", 0.0)),
                    int(features_version),
                    run_id,
                )
            )
    return out
