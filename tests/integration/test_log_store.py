"""atelier's Delta log store for local lakes: one writer of a version wins, and separate processes lose no commit.

Delta's default for local paths checks that a commit file is absent, then renames onto it, so two
processes committing the same version can both "succeed" and one commit is lost. LinkLogStore
publishes with a hard link, which the kernel refuses atomically for all but one writer.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from py4j.protocol import Py4JJavaError
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from tests.conftest import REPO

from atelier.config.platform import PlatformConfig
from atelier.spark import logstore
from atelier.spark.session import jar_conf
from atelier.spark.tables import Lake

pytestmark = pytest.mark.integration
WRITERS, ROUNDS = 6, 10
COMMITS = 12  # per process
TABLE = "ops.log_store_race"

# One process's writes: a SparkSession of its own (own catalog), COMMITS replacements of its own dates.
WRITER = """
import datetime as dt, json, sys
from atelier.config.platform import PlatformConfig, SparkConfig
from atelier.spark.session import build_session
from atelier.spark.tables import Lake
args = json.loads(sys.argv[1])
platform = PlatformConfig(lake_root=args["lake"], metastore_dir=args["metastore"], cache_dir=args["metastore"],
                          spark=SparkConfig(master="local[1]", shuffle_partitions=1, driver_memory="1g"))
spark = build_session(platform, app_name="log-store-writer")
assert spark.conf.get("spark.delta.logStore.file.impl") == "atelier.delta.LinkLogStore"
lake = Lake(spark, platform)
for i in range(args["commits"]):
    day = dt.date.fromisoformat(args["first"]) + dt.timedelta(days=i)
    frame = spark.createDataFrame([(day, n, args["tag"]) for n in range(50)], "d date, n long, tag string")
    lake.replace_dates(frame, args["table"], "d", day, day)
"""


def write_at_once(spark: SparkSession, store: object, target: str) -> list[str | None]:
    """WRITERS threads released together each write "writer i" as `target` (no overwrite); each one's error."""
    barrier, errors = threading.Barrier(WRITERS), [None] * WRITERS
    conf = spark._jsc.hadoopConfiguration()
    path = spark._jvm.org.apache.hadoop.fs.Path(target)

    def run(i: int) -> None:
        lines = spark._jvm.java.util.ArrayList()
        lines.add(json.dumps({"writer": i}))
        barrier.wait()
        try:
            store.write(path, lines.iterator(), False, conf)
        except Py4JJavaError as exc:
            errors[i] = exc.java_exception.getClass().getName()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_one_writer_of_a_version_wins_the_others_are_told(spark: SparkSession, tmp_path: Path) -> None:
    assert spark.conf.get(logstore.SETTING) == logstore.CLASS
    store = spark._jvm.atelier.delta.LinkLogStore(spark._jsc.hadoopConfiguration())
    for round_ in range(ROUNDS):
        target = tmp_path / "_delta_log" / f"{round_:020d}.json"
        errors = write_at_once(spark, store, f"file:{target}")
        winners = [i for i, e in enumerate(errors) if e is None]
        assert len(winners) == 1, errors
        assert set(errors) - {None} == {"java.nio.file.FileAlreadyExistsException"}
        assert json.loads(target.read_text()) == {"writer": winners[0]}
    assert sorted(p.name for p in (tmp_path / "_delta_log").iterdir()) == [f"{r:020d}.json" for r in range(ROUNDS)]


def test_an_overwrite_replaces_a_file_that_hadoop_wrote_with_a_checksum(spark: SparkSession, tmp_path: Path) -> None:
    """`_last_checkpoint` is overwritten in place. Written earlier through Hadoop's file system (Delta's default
    store, as in a lake from before atelier's), it has a checksum beside it that must not outlive it."""
    conf, jvm = spark._jsc.hadoopConfiguration(), spark._jvm
    target = tmp_path / "_delta_log" / "_last_checkpoint"
    path = jvm.org.apache.hadoop.fs.Path(f"file:{target}")
    out = path.getFileSystem(conf).create(path, True)
    out.write(bytearray(b'{"version":10,"size":12}\n'))
    out.close()
    assert target.with_name("._last_checkpoint.crc").is_file()
    store = jvm.atelier.delta.LinkLogStore(conf)
    lines = jvm.java.util.ArrayList()
    lines.add('{"version":20,"size":30}')
    store.write(path, lines.iterator(), True, conf)
    read, got = store.read(path, conf), []  # through Hadoop's file system, which verifies a checksum it finds
    while read.hasNext():
        got.append(read.next())
    assert got == ['{"version":20,"size":30}']


@pytest.mark.e2e
def test_two_processes_commit_to_one_table_and_no_commit_is_lost(
    spark: SparkSession, platform: PlatformConfig, tmp_path: Path
) -> None:
    jar_conf(platform)  # builds the log store's jar before the writers race to
    lake = Lake(spark, platform.model_copy(update={"lake_root": str(tmp_path / "lake")}))
    writers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WRITER,
                json.dumps(
                    {
                        "lake": str(tmp_path / "lake"),
                        "metastore": str(tmp_path / f"metastore-{tag}"),
                        "commits": COMMITS,
                        "tag": tag,
                        "first": first,
                        "table": TABLE,
                    }
                ),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for tag, first in (("a", "2013-01-01"), ("b", "2013-03-01"))
    ]
    outputs = [w.communicate(timeout=600)[0] for w in writers]
    assert [w.returncode for w in writers] == [0, 0], "\n".join(o[-3000:] for o in outputs)
    table = lake.read(TABLE)
    per_writer = {
        r["tag"]: (r["days"], r["rows"])
        for r in table.groupBy("tag").agg(F.countDistinct("d").alias("days"), F.count("*").alias("rows")).collect()
    }
    assert per_writer == {"a": (COMMITS, COMMITS * 50), "b": (COMMITS, COMMITS * 50)}
    history = spark.sql(f"DESCRIBE HISTORY delta.`{lake.path(TABLE)}`").collect()
    assert sorted(h["version"] for h in history) == list(range(2 * COMMITS))
