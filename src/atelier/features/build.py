"""The features job: bronze -> silver (clean, keyed, deduplicated, joined) -> gold feature table."""

from __future__ import annotations

import datetime as dt
import logging
import math
import uuid
from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from atelier.catalog import BATCH_DATE, BRONZE_METADATA, INGESTED_AT, bronze_table
from atelier.config.cleaning import JoinConfig
from atelier.config.common import DateRange
from atelier.config.platform import PlatformConfig
from atelier.config.use_case import UseCaseConfig
from atelier.errors import TableError
from atelier.features.clean import apply_rules, derive
from atelier.features.joins import asof_join, lookup_join
from atelier.features.keys import dedupe_latest, with_entity_key
from atelier.features.transforms import BuildWindow, build_features
from atelier.spark.tables import Lake
from atelier.validation import gate
from atelier.validation.gate import Scope
from atelier.validation.targets import validated_target

log = logging.getLogger(__name__)


@dataclass
class FeaturesReport:
    run_id: str
    inputs: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)


def build_silver(primary: DataFrame, joined_sources: dict[str, DataFrame], use_case: UseCaseConfig) -> DataFrame:
    """Clean the primary events, key and deduplicate them, join the other sources, enrich."""
    clean = use_case.clean
    df = apply_rules(derive(primary, clean.derive), clean.rules)
    df = with_entity_key(df, use_case.entity.key, use_case.entity.natural_key)
    # Per date as well as per key: the result must not depend on how a backfill splits its range.
    df = dedupe_latest(df, [use_case.entity.key, BATCH_DATE], INGESTED_AT).drop(*BRONZE_METADATA)
    for join in clean.joins:
        df = _join(df, joined_sources[join.source], join, use_case.entity.key)
    return derive(df, clean.enrich)


def _join(df: DataFrame, right: DataFrame, join: JoinConfig, key: str) -> DataFrame:
    if join.type == "lookup":
        return lookup_join(df, right, join.keys, join.output_columns())
    return asof_join(
        df,
        right,
        left_id=key,
        on=join.keys,
        left_time=join.left_time,
        right_time=join.right_time,
        tolerance_hours=join.tolerance_hours,
        columns=join.output_columns(),
        time_alias=join.time_alias,
    )


def build_gold(silver: DataFrame, use_case: UseCaseConfig, window: BuildWindow) -> DataFrame:
    """Key, date and event time, and every configured feature (stateless transforms only)."""
    keep = [use_case.entity.key, use_case.date_column, use_case.event_time]
    return build_features(silver, use_case.features, keep, window)


def run_features(lake: Lake, use_case: UseCaseConfig, start: dt.date, end: dt.date) -> FeaturesReport:
    """Build silver and gold for [start, end] from bronze; each table replaced per date, atomically."""
    report = FeaturesReport(run_id=uuid.uuid4().hex)
    primary = _bronze_events(lake, use_case.clean.primary, start, end, report)
    _require_dates(primary, use_case.clean.primary, lake.platform, start, end)
    joined: dict[str, DataFrame] = {}
    for join in use_case.clean.joins:
        if use_case.sources[join.source].kind == "reference":
            joined[join.source] = _bronze(lake, join.source, report)
        else:
            hours = join.tolerance_hours if join.type == "asof" else 0
            lookback = dt.timedelta(days=math.ceil(hours / 24) + 1)
            joined[join.source] = _bronze_events(lake, join.source, start - lookback, end, report)

    meta = {"job": "features", "run_id": report.run_id, "use_case": use_case.name, "inputs": report.inputs}
    silver_name, gold_name = use_case.tables.silver, use_case.tables.features
    silver = build_silver(primary, joined, use_case)
    report.versions[silver_name] = _write(lake, use_case, "silver", silver, start, end, meta)
    written = lake.read(silver_name, report.versions[silver_name])
    in_range = written.filter(F.col(use_case.date_column).between(start, end))
    gold = build_gold(in_range, use_case, BuildWindow(start, end))
    meta["inputs"] = {**report.inputs, silver_name: report.versions[silver_name]}
    report.versions[gold_name] = _write(lake, use_case, "features", gold, start, end, meta)
    log.info("features %s %s..%s done: %s", use_case.name, start, end, report.versions)
    return report


def _write(
    lake: Lake,
    use_case: UseCaseConfig,
    role: str,
    frame: DataFrame,
    start: dt.date,
    end: dt.date,
    meta: dict,
) -> int:
    """Replace the dates of the silver or features table, through the validation gate when it has rules."""
    target = validated_target(lake.platform, use_case, role)
    outcome = None
    if use_case.validation.on_write and target.rules is not None:
        scope = Scope("features", meta["run_id"], target.table, target.date_column, start, end)
        outcome = gate.check(lake, scope, frame, target.rules, target.expected)
    rows = outcome.passed if outcome else frame
    commit = lake.replace_dates(rows, target.table, target.date_column, start, end, meta)
    if outcome:
        gate.confirm(lake, outcome, commit.rows)
    return commit.version


def _bronze(lake: Lake, source: str, report: FeaturesReport) -> DataFrame:
    name = bronze_table(lake.platform, source)
    version = lake.version(name) if lake.exists(name) else None
    if version is None:
        raise TableError(f"{name} does not exist: run `atelier collect` first")
    report.inputs[name] = version
    return lake.read(name, version)


def _bronze_events(lake: Lake, source: str, start: dt.date, end: dt.date, report: FeaturesReport) -> DataFrame:
    return _bronze(lake, source, report).filter(F.col(BATCH_DATE).between(start, end))


def _require_dates(primary: DataFrame, source: str, platform: PlatformConfig, start: dt.date, end: dt.date) -> None:
    present = {r[0] for r in primary.select(BATCH_DATE).distinct().collect()}
    missing = [d for d in DateRange(start=start, end=end).dates() if d not in present]
    if missing:
        raise TableError(
            f"{bronze_table(platform, source)} has no rows for {len(missing)} date(s) of {start}..{end}, "
            f"first {missing[0]}: run `atelier collect` for them first"
        )
