"""Training, the registry and the promotion gate on a PostgreSQL tracking store (a throwaway server).

scripts/postgres.sh starts Debian's PostgreSQL for this module (`make test` installs it first when
missing) and removes it afterwards; the same code as on SQLite runs with `mlflow.tracking_uri` set to
`postgresql://...`, and the test asks the server, not the SQLite store, for what was recorded.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from pyspark.sql import SparkSession
from tests.integration.conftest import training_use_case
from tests.integration.test_promotion import WEAK

from atelier.config.platform import MlflowConfig, PlatformConfig
from atelier.promotion.gate import promote, rollback
from atelier.spark.tables import Lake
from atelier.tracking import registry, store
from atelier.training.job import train

pytestmark = pytest.mark.integration

MODEL = "flights_delay_pg"


@pytest.fixture(scope="module")
def pg_lake(training_lake: PlatformConfig, postgres: str, tmp_path_factory) -> Iterator[PlatformConfig]:
    """The training lake with its MLflow store on the PostgreSQL server."""
    mlflow_config = MlflowConfig(tracking_uri=postgres, artifact_root=str(tmp_path_factory.mktemp("pg-artifacts")))
    yield training_lake.model_copy(update={"mlflow": mlflow_config})
    store.use_platform(training_lake)  # the other modules' store again


def test_train_register_promote_and_roll_back_on_postgresql(
    spark: SparkSession, training_lake: PlatformConfig, pg_lake: PlatformConfig, postgres: str
) -> None:
    uc = training_use_case("training.backend=local", f"training.registered_model={MODEL}")
    good = train(Lake(spark, pg_lake), uc)
    weak = train(
        Lake(spark, pg_lake),
        training_use_case("training.backend=local", "training.epochs=1", f"training.registered_model={MODEL}", WEAK),
    )
    promote(Lake(spark, pg_lake), uc, good.model_version)
    forced, _ = promote(Lake(spark, pg_lake), uc, weak.model_version, force=True, reason="drill on PostgreSQL")
    back = rollback(Lake(spark, pg_lake), uc, "drill over")
    assert forced.action == "force" and (back.from_version, back.to_version) == (weak.model_version, good.model_version)

    # What a user checks, asked of the server: runs, params, metrics, versions, aliases.
    client = MlflowClient(postgres, postgres)
    run = client.get_run(good.run_id)
    assert run.info.status == "FINISHED" and run.data.params["training.backend"] == "local"
    assert run.data.metrics["test_auc"] == pytest.approx(good.metrics["test_auc"]) and good.metrics["test_auc"] > 0.6
    assert len(client.get_metric_history(good.run_id, "train_loss")) > 1
    versions = {str(v.version): v.run_id for v in client.search_model_versions(f"name = '{MODEL}'")}
    assert versions == {good.model_version: good.run_id, weak.model_version: weak.run_id}
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == good.model_version
    with psycopg.connect(postgres) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM runs WHERE run_uuid IN (%s, %s) AND status = 'FINISHED'", (good.run_id, weak.run_id)
        )
        assert cursor.fetchone()[0] == 2
        cursor.execute("SELECT version FROM registered_model_aliases WHERE name = %s AND alias = 'champion'", (MODEL,))
        assert str(cursor.fetchone()[0]) == good.model_version

    # Nothing of it went to the SQLite store of the same lake.
    sqlite_uri = store.resolve_uri(training_lake.mlflow.tracking_uri)
    sqlite = MlflowClient(sqlite_uri, sqlite_uri)
    with pytest.raises(MlflowException):
        sqlite.get_run(good.run_id)
    assert not sqlite.search_model_versions(f"name = '{MODEL}'")

    events = (
        Lake(spark, pg_lake)
        .read(registry.events_table(pg_lake))
        .filter(f"model = '{MODEL}' AND alias = 'champion'")
        .orderBy("at")
        .collect()
    )
    assert [(e.action, e.from_version, e.to_version) for e in events] == [
        ("promote", None, good.model_version),
        ("force", good.model_version, weak.model_version),
        ("rollback", weak.model_version, good.model_version),
    ]
    evidence = client.get_run(events[1].evidence_run_id)
    assert evidence.data.tags["atelier.kind"] == "promotion" and evidence.data.tags["decision"] == "refused"
