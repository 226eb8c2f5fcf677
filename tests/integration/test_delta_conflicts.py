"""Concurrent writers of one partitioned Delta table, in one SparkSession (Lake.replace_dates).

Writers of disjoint dates never conflict (replaceWhere on the date partition column); writers of
the same date conflict and the retry lets both finish, one after the other. A conflict is also made
deterministic: the write's own rows wait on a file while the test commits the same date, so the
retry path and the give-up path run every time.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import DataFrame, SparkSession

from atelier.config.platform import PlatformConfig, WritesConfig
from atelier.errors import TableError, WriteConflict
from atelier.spark.tables import Lake

pytestmark = pytest.mark.integration
DAY = dt.date(2013, 1, 1)
SCHEMA = "d date, id long, tag string"
RETRY = "conflicted with a concurrent commit"


@pytest.fixture()
def lake(platform: PlatformConfig, tmp_path: Path) -> PlatformConfig:
    """A lake of its own, retrying conflicts quickly."""
    return platform.model_copy(
        update={
            "lake_root": str(tmp_path / "lake"),
            "writes": WritesConfig(attempts=4, backoff_s=0.05, max_backoff_s=0.2),
        }
    )


def rows(spark: SparkSession, day: dt.date, tag: str, n: int) -> DataFrame:
    return spark.createDataFrame([(day, i, tag) for i in range(n)], SCHEMA)


def same(a: DataFrame, b: DataFrame) -> bool:
    return a.count() == b.count() and a.exceptAll(b).count() == 0 and b.exceptAll(a).count() == 0


def at_once(*writes: Callable[[], int]) -> list[tuple[float, float]]:
    """Run the writes in threads released together; each one's (start, end) time. Errors are raised."""
    barrier, spans, errors = threading.Barrier(len(writes)), [(0.0, 0.0)] * len(writes), []

    def run(i: int, write: Callable[[], int]) -> None:
        barrier.wait()
        start = time.monotonic()
        try:
            write()
        except Exception as exc:  # noqa: BLE001 - re-raised in the test's thread below
            errors.append(exc)
        spans[i] = (start, time.monotonic())

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(writes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return spans


def overlap(spans: list[tuple[float, float]]) -> bool:
    (a0, a1), (b0, b1) = spans
    return a0 < b1 and b0 < a1


def retries(caplog: pytest.LogCaptureFixture) -> int:
    return sum(RETRY in r.getMessage() for r in caplog.records if r.name == "atelier.spark.tables")


def test_writers_of_different_dates_do_not_conflict(
    spark: SparkSession, lake: PlatformConfig, caplog: pytest.LogCaptureFixture
) -> None:
    name = "conflicts.disjoint"
    Lake(spark, lake).replace_dates(rows(spark, DAY, "seed", 3), name, "d", DAY, DAY)
    expected = [rows(spark, DAY, "seed", 3)]
    caplog.set_level(logging.INFO)
    overlapping = 0
    for round_ in range(1, 6):
        days = [DAY + dt.timedelta(days=2 * round_ + i) for i in (0, 1)]
        frames = [rows(spark, d, f"r{round_}", 200 + i) for i, d in enumerate(days)]
        expected += frames
        spans = at_once(
            *[lambda f=f, d=d: Lake(spark, lake).replace_dates(f, name, "d", d, d) for f, d in zip(frames, days)]
        )
        overlapping += overlap(spans)
    print(f"disjoint dates: 5 rounds of 2 writers, {overlapping} overlapping in time, {retries(caplog)} retries")
    assert overlapping >= 3, "the writes hardly ran at the same time: the test proves nothing"
    assert retries(caplog) == 0
    assert same(Lake(spark, lake).read(name), functools.reduce(DataFrame.unionByName, expected))
    assert Lake(spark, lake).version(name) == 10


def test_writers_of_the_same_date_both_finish_and_one_wins(
    spark: SparkSession, lake: PlatformConfig, caplog: pytest.LogCaptureFixture
) -> None:
    name = "conflicts.same_date"
    caplog.set_level(logging.INFO)
    for round_ in range(4):  # round 0 also races the table's creation
        x, y = rows(spark, DAY, f"x{round_}", 300), rows(spark, DAY, f"y{round_}", 301)
        versions: dict[str, int] = {}
        at_once(
            lambda: versions.setdefault("x", Lake(spark, lake).replace_dates(x, name, "d", DAY, DAY).version),
            lambda: versions.setdefault("y", Lake(spark, lake).replace_dates(y, name, "d", DAY, DAY).version),
        )
        final = Lake(spark, lake).read(name)
        winner = x if versions["x"] > versions["y"] else y  # the later commit replaced the earlier one
        assert same(final, winner), f"round {round_}: the date holds a mix or a partial write"
        assert sorted(versions.values()) == [2 * round_, 2 * round_ + 1]
    print(f"same date: 4 rounds of 2 writers, {retries(caplog)} retries")


def waiting_on(folder: Path) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """A mapInPandas function that creates `started-N` (N: its call) and waits for `go-N`."""

    def wait(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        n = len(list(folder.glob("started-*"))) + 1
        (folder / f"started-{n}").touch()
        while not (folder / f"go-{n}").exists():
            time.sleep(0.05)
        yield from batches

    return wait


class Held:
    """A frame whose rows wait on the test: evaluated inside the write's Delta transaction, it holds
    the commit back while the test commits something else."""

    def __init__(self, folder: Path, frame: DataFrame) -> None:
        self.folder = folder
        folder.mkdir()
        self.frame = frame.coalesce(1).mapInPandas(waiting_on(folder), frame.schema)

    def started(self, n: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not (self.folder / f"started-{n}").exists():
            assert time.monotonic() < deadline, f"attempt {n} of the held write never started"
            time.sleep(0.05)

    def go(self, n: int) -> None:
        (self.folder / f"go-{n}").touch()


def held_write(spark: SparkSession, lake: PlatformConfig, held: Held, name: str) -> tuple[threading.Thread, list]:
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(Lake(spark, lake).replace_dates(held.frame, name, "d", DAY, DAY))
        except TableError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_a_conflict_is_retried_and_the_retry_commits(
    spark: SparkSession, lake: PlatformConfig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    name = "conflicts.retried"
    Lake(spark, lake).replace_dates(rows(spark, DAY, "old", 5), name, "d", DAY, DAY)
    caplog.set_level(logging.INFO)
    held = Held(tmp_path / "held", rows(spark, DAY, "held", 50))
    thread, outcome = held_write(spark, lake, held, name)
    held.started(1)
    Lake(spark, lake).replace_dates(rows(spark, DAY, "other", 7), name, "d", DAY, DAY)  # commits first
    held.go(1)
    held.go(2)  # the retry goes through
    thread.join(timeout=300)
    assert outcome and outcome[0].version == 2 and outcome[0].rows == 50, outcome
    assert retries(caplog) == 1
    assert same(Lake(spark, lake).read(name), rows(spark, DAY, "held", 50))
    message = next(r.getMessage() for r in caplog.records if RETRY in r.getMessage())
    assert f"{name} dates {DAY}..{DAY}: attempt 1 of 4" in message and "Concurrent" in message, message


def test_a_write_that_always_conflicts_gives_up_naming_table_dates_and_conflict(
    spark: SparkSession, lake: PlatformConfig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    name = "conflicts.given_up"
    lake = lake.model_copy(update={"writes": WritesConfig(attempts=3, backoff_s=0.05, max_backoff_s=0.2)})
    Lake(spark, lake).replace_dates(rows(spark, DAY, "old", 5), name, "d", DAY, DAY)
    caplog.set_level(logging.INFO)
    held = Held(tmp_path / "held", rows(spark, DAY, "held", 50))
    thread, outcome = held_write(spark, lake, held, name)
    for attempt in (1, 2, 3):
        held.started(attempt)
        Lake(spark, lake).replace_dates(rows(spark, DAY, f"other{attempt}", 7), name, "d", DAY, DAY)
        held.go(attempt)
    thread.join(timeout=300)
    assert outcome and isinstance(outcome[0], WriteConflict) and outcome[0].exit_status == 75, outcome
    message = str(outcome[0])
    assert message.startswith(f"{name} dates {DAY}..{DAY}: gave up after 3 attempt(s)"), message
    assert "Concurrent" in message and "Exception" in message, message
    assert retries(caplog) == 2
    # The held write never committed: the table holds the last other write, whole.
    assert same(Lake(spark, lake).read(name), rows(spark, DAY, "other3", 7))
    assert Lake(spark, lake).version(name) == 3
