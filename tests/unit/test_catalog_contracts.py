"""The table contracts of atelier.catalog agree with docs/tables.md, with themselves, and with the writers' schemas."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from atelier import catalog
from atelier.catalog import CONTRACTS, ENTITY, TableContract
from atelier.config.loader import load_platform, load_use_case

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "conf"
TABLES = REPO / "docs" / "tables.md"


def documented() -> dict[str, tuple[list[str], str | None]]:
    """docs/tables.md's table of tables: each table's name, with its key columns and partition (None: none)."""
    rows: dict[str, tuple[list[str], str | None]] = {}
    for line in TABLES.read_text().splitlines():
        cells = [c.strip() for c in line.split("|")[1:-1]]
        if len(cells) != 4 or not re.fullmatch(r"`[^`]+`", cells[0]):
            continue
        name, key, partition = cells[0].strip("`"), cells[1], cells[2]
        rows[name] = (re.findall(r"`([^`]+)`", key), None if partition == "none" else partition.strip("`"))
    return rows


def test_the_docs_table_is_read() -> None:
    rows = documented()
    assert rows["ml.predictions"] == (["flight_id", "arm", "score_date"], "score_date")
    assert rows["ml.registry_events"][1] is None


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_docs_list_the_contracts_keys_and_partition(name: str) -> None:
    """docs/tables.md names the flights example's tables: its entity key is the contracts' `{entity}`."""
    entity = load_use_case("flights_delay", CONF).entity.key
    contract = CONTRACTS[name]
    keys, partition = documented()[name]
    assert keys == [entity if k == ENTITY else k for k in contract.keys], f"docs/tables.md's key of {name}"
    assert partition == contract.partition, f"docs/tables.md's partition of {name}"


def test_contracts_are_keyed_by_the_tables_default_names() -> None:
    use_case, platform = load_use_case("flights_delay", CONF), load_platform(CONF)
    from atelier.tracking import registry

    names = {
        use_case.scoring.predictions_table: catalog.PREDICTIONS,
        use_case.scoring.prediction_log_table: catalog.PREDICTION_LOG,
        use_case.tables.outcomes: catalog.OUTCOMES,
        use_case.monitoring.live_metrics_table: catalog.LIVE_METRICS,
        use_case.monitoring.drift_table: catalog.FEATURE_DRIFT,
        use_case.monitoring.alerts_table: catalog.ALERTS,
        use_case.monitoring.retrain_requests_table: catalog.RETRAIN_REQUESTS,
        registry.events_table(platform): catalog.REGISTRY_EVENTS,
        catalog.validation_runs_table(platform): catalog.VALIDATION_RUNS,
    }
    assert names == CONTRACTS


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_keys_and_partition_are_columns(name: str) -> None:
    contract = CONTRACTS[name]
    assert len(set(contract.columns)) == len(contract.columns), f"{name} names a column twice"
    assert contract.keys and set(contract.keys) <= set(contract.columns)
    assert contract.partition is None or contract.partition in contract.columns


def test_columns_for_names_the_use_cases_columns() -> None:
    outcomes = catalog.OUTCOMES.columns_for(entity="flight_id", date="flight_date", outcomes=["arr_delay", "cancelled"])
    assert outcomes == ["flight_id", "flight_date", catalog.OUTCOME_DATE, "arr_delay", "cancelled", catalog.INGESTED_AT]
    assert catalog.PREDICTIONS.columns_for(entity="id")[:2] == ["id", catalog.SCORE_DATE]
    with pytest.raises(KeyError):
        catalog.PREDICTIONS.columns_for()
    assert TableContract(("a", "b"), ("a",), None).columns_for() == ["a", "b"]


def test_writers_schemas_are_the_contracts() -> None:
    """The StructTypes the writers build rows with, plus the timestamp each adds last, are the contracts' columns."""
    from atelier.monitoring import alerts, drift, grouped_metrics
    from atelier.tracking import registry

    assert [*drift._SCHEMA.names, "computed_at"] == list(catalog.FEATURE_DRIFT.columns)
    assert [*alerts._ALERTS.names, "raised_at"] == list(catalog.ALERTS.columns)
    assert [*alerts._REQUESTS.names, "requested_at"] == list(catalog.RETRAIN_REQUESTS.columns)
    assert registry.EVENT_SCHEMA.names == list(catalog.REGISTRY_EVENTS.columns)
    assert grouped_metrics.METRICS == list(catalog.METRICS)
    assert [f for f in catalog.LIVE_METRICS.columns if f in grouped_metrics.METRICS] == grouped_metrics.METRICS
