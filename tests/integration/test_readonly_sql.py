"""`atelier sql` runs read-only statements and refuses every other, judged on Spark's parse tree."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from pyspark.sql import SparkSession

from atelier import cli, spark_entry
from atelier.config.platform import PlatformConfig
from atelier.errors import InputRefused
from atelier.runtime import Job
from atelier.spark.readonly import check_query
from atelier.spark.tables import Lake

TABLE = "readonly_test.items"

READS = [
    f"SELECT * FROM {TABLE} WHERE id > 1 ORDER BY id LIMIT 2",
    f"WITH big AS (SELECT * FROM {TABLE} WHERE id > 1) SELECT count(*) FROM big",
    f"SELECT id FROM {TABLE} WHERE id IN (SELECT max(id) FROM {TABLE}) UNION ALL SELECT 0",
    f"SELECT id, rank() OVER w FROM {TABLE} WINDOW w AS (ORDER BY id)",
    f"SELECT * FROM {TABLE} VERSION AS OF 0",
    "VALUES (1, 'a')",
    "SELECT 1;",
    f"SHOW TABLES IN {TABLE.split('.')[0]}",
    f"DESCRIBE TABLE {TABLE}",
    f"DESCRIBE HISTORY {TABLE}",
    f"EXPLAIN SELECT * FROM {TABLE}",
]
REFUSED = {
    f"DROP TABLE {TABLE}": "DropTable",
    f"INSERT INTO {TABLE} VALUES (9, 'z')": "InsertIntoStatement",
    f"WITH x AS (SELECT 9, 'z') INSERT INTO {TABLE} SELECT * FROM x": "InsertIntoStatement",
    "INSERT OVERWRITE DIRECTORY '/tmp/atelier-readonly' SELECT 1": "InsertIntoDir",
    f"DELETE FROM {TABLE} WHERE id = 1": "DeleteFromTable",
    f"MERGE INTO {TABLE} t USING {TABLE} s ON t.id = s.id WHEN MATCHED THEN DELETE": "MergeIntoTable",
    f"UPDATE {TABLE} SET name = 'z'": "UpdateTable",
    "CREATE TABLE readonly_test.other (id INT) USING DELTA": "CreateTable",
    f"ALTER TABLE {TABLE} ADD COLUMNS (extra INT)": "AddColumns",
    f"TRUNCATE TABLE {TABLE}": "TruncateTable",
    f"RESTORE TABLE {TABLE} TO VERSION AS OF 0": "RestoreTableStatement",
    f"VACUUM {TABLE}": "VacuumTableCommand",
    "SET spark.sql.shuffle.partitions=1": "SetCommand",
    "ADD JAR /tmp/atelier-readonly.jar": "AddJarsCommand",
    f"CACHE TABLE {TABLE}": "CacheTable",
    f"EXPLAIN DROP TABLE {TABLE}": "DropTable",
    f"SELECT TRANSFORM(id) USING 'cat' AS (out) FROM {TABLE}": "ScriptTransformation",
    "WITH x AS (SELECT TRANSFORM(1) USING 'cat' AS (out)) SELECT * FROM x": "ScriptTransformation",
    "SELECT java_method('java.lang.System', 'exit', 0)": "java_method()",
    "SELECT id, rank() OVER w FROM t WINDOW w AS (PARTITION BY reflect('java.lang.System', 'exit', 0))": "reflect()",
    f"SELECT 1; DROP TABLE {TABLE}": "does not parse as one statement",
    f"DROP TABLE {TABLE}; SELECT 1": "does not parse as one statement",
}


@pytest.fixture(scope="module")
def table(spark: SparkSession, platform: PlatformConfig) -> str:
    rows = spark.createDataFrame([(1, "a"), (2, "b"), (3, "c")], "id int, name string")
    Lake(spark, platform).replace(rows, TABLE)
    return TABLE


@pytest.mark.parametrize("statement", READS)
def test_read_only_statements_pass(spark: SparkSession, table: str, statement: str) -> None:
    check_query(spark, statement)
    spark.sql(statement).collect()


@pytest.mark.parametrize("statement", REFUSED)
def test_other_statements_are_refused_naming_what_they_are(spark: SparkSession, table: str, statement: str) -> None:
    with pytest.raises(InputRefused, match=re.escape(REFUSED[statement])):
        check_query(spark, statement)


def test_the_command_refuses_a_drop_and_the_table_keeps_its_rows(
    spark: SparkSession,
    platform: PlatformConfig,
    table: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    @contextmanager
    def this_session(*_args, **_kwargs) -> Iterator[Job]:
        yield Job(platform=platform, spark=spark)

    monkeypatch.setattr(spark_entry, "open_job", this_session)
    assert cli.main(["sql", f"DROP TABLE {table}"]) == 2
    assert "atelier sql is read-only: DropTable statements are refused" in caplog.text
    assert spark.catalog.tableExists(table)
    assert cli.main(["sql", f"SELECT count(*) AS n FROM {table}"]) == 0
    assert "\n3\n" in capsys.readouterr().out
