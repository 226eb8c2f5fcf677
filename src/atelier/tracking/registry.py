"""Registry aliases (`champion`, `challenger`) and the audit log of every move: `ml.registry_events`.

MLflow keeps only where an alias points now; each move here also appends who moved it, when, from
which version to which, the evidence run and the reason, so a rollback knows where to go back to.
"""

from __future__ import annotations

import datetime as dt
import getpass
import logging
from dataclasses import asdict, dataclass

import mlflow
from mlflow.exceptions import MlflowException
from pyspark.sql import functions as F
from pyspark.sql import types as T

from atelier.catalog import REGISTRY_EVENTS
from atelier.config.platform import PlatformConfig
from atelier.errors import AtelierError
from atelier.spark.tables import Lake

log = logging.getLogger(__name__)

ALIASES = ("champion", "challenger", "shadow")
EVENTS_TABLE = "registry_events"


class RegistryError(AtelierError):
    """A model, version or alias the registry does not have, or a move that cannot be made."""


@dataclass(frozen=True)
class RegistryEvent:
    model: str
    alias: str
    action: str  # promote | force | rollback | assign
    from_version: str | None
    to_version: str
    at: dt.datetime
    user: str
    evidence_run_id: str | None
    reason: str


EVENT_SCHEMA = T.StructType(
    [
        T.StructField("model", T.StringType(), False),
        T.StructField("alias", T.StringType(), False),
        T.StructField("action", T.StringType(), False),
        T.StructField("from_version", T.StringType()),
        T.StructField("to_version", T.StringType(), False),
        T.StructField("at", T.TimestampType(), False),
        T.StructField("user", T.StringType(), False),
        T.StructField("evidence_run_id", T.StringType()),
        T.StructField("reason", T.StringType(), False),
    ]
)


def events_table(platform: PlatformConfig) -> str:
    return f"{platform.databases.ml}.{EVENTS_TABLE}"


def check_version(model: str, version: str) -> None:
    """The version exists, or a RegistryError listing the versions that do."""
    client = mlflow.MlflowClient()
    try:
        client.get_model_version(model, version)
    except MlflowException:
        try:
            known = sorted((str(v.version) for v in client.search_model_versions(f"name = '{model}'")), key=int)
        except MlflowException:
            known = []
        where = f"versions {', '.join(known)}" if known else "no versions (train one first: atelier train)"
        raise RegistryError(f"model {model} has no version {version}; it has {where}") from None


def alias_version(model: str, alias: str) -> str | None:
    """The version an alias points at, or None."""
    try:
        return str(mlflow.MlflowClient().get_model_version_by_alias(model, alias).version)
    except MlflowException:
        return None


def move_alias(
    lake: Lake, model: str, alias: str, version: str, action: str, reason: str, evidence_run_id: str | None = None
) -> RegistryEvent:
    """Point `alias` at `version` and append the move to ml.registry_events."""
    if alias not in ALIASES:
        raise RegistryError(f"alias '{alias}' is not one of {ALIASES}")
    check_version(model, version)
    event = RegistryEvent(
        model=model,
        alias=alias,
        action=action,
        from_version=alias_version(model, alias),
        to_version=str(version),
        at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        user=getpass.getuser(),
        evidence_run_id=evidence_run_id,
        reason=reason,
    )
    mlflow.MlflowClient().set_registered_model_alias(model, alias, str(version))
    frame = lake.spark.createDataFrame([tuple(asdict(event).values())], EVENT_SCHEMA).select(*REGISTRY_EVENTS.columns)
    lake.append(frame, events_table(lake.platform), {"job": "promote", "model": model})
    log.info("%s: %s %s -> %s (%s)", model, alias, event.from_version, version, action)
    return event


def history(lake: Lake, model: str, alias: str) -> list[dict]:
    """The alias's moves, newest first."""
    if not lake.exists(events_table(lake.platform)):
        return []
    rows = (
        lake.read(events_table(lake.platform))
        .filter((F.col("model") == model) & (F.col("alias") == alias))
        .orderBy("at", ascending=False)
        .collect()
    )
    return [r.asDict() for r in rows]
