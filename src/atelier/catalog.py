"""The table catalog's contract: table names and the columns that a table's writers and readers share.

Writers (collect, features, scoring, the validation gate) and readers (features, validation,
monitoring; a streaming job or the online service to come) import these names from here, not from
each other, so that no stage depends on another stage's module to read its tables.
"""

from __future__ import annotations

from atelier.config.platform import PlatformConfig

# bronze.<source>: the source's columns, then where and when each row was collected
BATCH_DATE = "_batch_date"  # the date a row was collected for (an event's own date)
INGESTED_AT = "_ingested_at"
SOURCE = "_source"  # "<source name>:<location>"
BRONZE_METADATA = (BATCH_DATE, INGESTED_AT, SOURCE)
# the use case's outcomes table: the entity key, its date, the outcome columns and the date they matured
OUTCOME_DATE = "outcome_date"
# predictions, and every table reconciled with them (live metrics, drift, alerts)
SCORE_DATE = "score_date"
# quarantine.<database>_<table>: what a job hands to the quarantine
QUARANTINE_DATE = "_date"
QUARANTINE_ROW = "_date date, failed_rules array<string>, row string"


def bronze_table(platform: PlatformConfig, source_name: str) -> str:
    """The bronze table of a source."""
    return f"{platform.databases.bronze}.{source_name}"


def quarantine_table(platform: PlatformConfig, table: str) -> str:
    """The quarantine of a table: `quarantine.<database>_<table>`."""
    return f"{platform.databases.quarantine}.{table.replace('.', '_')}"


def validation_runs_table(platform: PlatformConfig) -> str:
    """The append-only record of every validation run."""
    return f"{platform.databases.ops}.validation_runs"
