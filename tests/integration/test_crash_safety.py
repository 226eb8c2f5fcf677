"""Crash safety: `kill -9` the features and score jobs at seeded random moments, then rerun them.

Each job runs as an `atelier` subprocess (its own lake, Derby catalog and cache; the score job
reads the arms fixture's MLflow store). A clean run on a reference lake measures its duration T
and gives the expected rows. On a second lake, fresh, the job is started KILLS times and its whole
process group is killed with SIGKILL: at stratified random moments over [0, T], and a few times
just after a chosen table's first new data file appears (aimed at a write); each start begins
from whatever the previous kill left, with no clean-up. A last run goes to the end. Then, for
every table the job writes:

- every version in the Delta log is a whole commit: the rows of each version equal the reference
  (count and an order-free hash), each commit wrote the reference's row count, and the versions
  are contiguous JSON commits;
- the final version equals the reference exactly (exceptAll both ways, counts): nothing lost,
  nothing doubled;
- the append-only validation log holds each run's records once.

A kill is counted mid-write when it left files of a write that never committed (data files no
commit references, or a commit's temporary file). The figures are printed.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from tests.conftest import REPO, rooted_platform, settings_of
from tests.integration.conftest import START

from atelier.config.platform import MlflowConfig, PlatformConfig
from atelier.spark import tables

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
ATELIER = str(Path(sys.executable).parent / "atelier")
DAY = START  # the first day of the training lake: its features depend on no earlier day
# Each start costs a JVM and a Spark session (~40 s on CI's 2 cores): 6 by default, ATELIER_CRASH_KILLS for more.
KILLS = int(os.environ.get("ATELIER_CRASH_KILLS", "6"))
AIMED = min(4, KILLS - 1)  # of which aimed at a write (what the mid-write check rests on); the rest at random moments
SEED = 9
# An aimed kill lands this long (at most) after the first new file: a one-day prediction write commits
# within a few hundred ms of its first file, so a wider window mostly lands after the commit (a run had
# all 4 aimed kills there with 0.3 s).
AIM_JITTER_S = 0.1
MODEL = "flights_delay_arms"
VALIDATION_LOG = "ops.validation_runs"


@dataclass(frozen=True)
class Job:
    """An atelier job, the tables it replaces (with the columns that differ between runs) and the folders to aim at."""

    args: tuple[str, ...]
    tables: dict[str, tuple[str, ...]]
    aims: tuple[str, ...]  # tables (or the model cache) whose first new file a kill may wait for
    logs: tuple[str, ...] = ()


FEATURES = Job(
    ("features", "--use-case", "flights_delay", "--date", str(DAY)),
    {
        "silver.flights": (),
        "gold.flight_features": (),
        "quarantine.silver_flights": ("run_id", "quarantined_at"),
        "quarantine.gold_flight_features": ("run_id", "quarantined_at"),
    },
    ("silver.flights", "gold.flight_features", VALIDATION_LOG),
    (VALIDATION_LOG,),
)


def score_job(version: str) -> Job:
    return Job(
        (
            "score",
            "--use-case",
            "flights_delay",
            "--date",
            str(DAY),
            f"--set=training.registered_model={MODEL}",
            f"--set=scoring.arms=[{{name: champion, role: champion, version: '{version}'}}]",
            "--set=scoring.prediction_log_percent=10",
        ),
        {"ml.predictions": ("scoring_run_id", "scored_at"), "ml.prediction_log": ("scoring_run_id",)},
        ("cache", "ml.predictions", "ml.prediction_log"),
    )


@dataclass(frozen=True)
class Lake:
    root: Path
    mlflow: MlflowConfig

    def platform(self) -> PlatformConfig:
        return rooted_platform(self.root, self.mlflow)

    def settings(self) -> list[str]:
        return settings_of(self.platform(), master="local[2]")

    def folder(self, aim: str) -> Path:
        return (
            Path(self.platform().cache_dir) / "models"
            if aim == "cache"
            else Path(self.platform().lake_root, *aim.split("."))
        )

    def derby_lock(self) -> Path:
        return self.root / "metastore" / "metastore_db" / "db.lck"


@dataclass
class Run:
    kill_at: float | None  # planned, in seconds after the start; None: run to the end
    aim: str | None = None  # the folder whose first new file set `kill_at`
    killed: bool = False
    seconds: float = 0.0
    commits: int = 0  # new versions, all tables together
    uncommitted: int = 0  # new files of writes that never committed: the kill landed mid-write
    stale_lock: bool = False  # Derby's db.lck, left by the kill before, was there at the start
    log: str = ""


@dataclass
class Figures:
    job: str
    clean_seconds: float
    runs: list[Run] = field(default_factory=list)

    def line(self) -> str:
        kills = [r for r in self.runs if r.killed]
        return (
            f"{self.job}: clean run {self.clean_seconds:.0f}s; {len(kills)} kills "
            f"({sum(r.aim is not None for r in kills)} aimed at a write), "
            f"{sum(r.uncommitted > 0 for r in kills)} mid-write, "
            f"{sum(r.commits > 0 for r in kills)} after committing a version, "
            f"{sum(r.stale_lock for r in self.runs)} starts on a stale Derby lock; "
            f"{sum(not r.killed for r in self.runs)} runs to the end, all exit 0"
        )


def data_files(folder: Path) -> set[str]:
    """Files of the folder (relative paths) outside `_delta_log`, and the log's temporary files."""
    if not folder.is_dir():
        return set()
    found = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and "_delta_log" not in p.parts}
    log_dir = folder / "_delta_log"
    if log_dir.is_dir():
        found |= {f"_delta_log/{p.name}" for p in log_dir.iterdir() if p.name.endswith(".tmp")}
    return found


def commits(folder: Path) -> list[Path]:
    log_dir = folder / "_delta_log"
    return sorted(log_dir.glob("*.json")) if log_dir.is_dir() else []


def committed_files(folder: Path) -> set[str]:
    """Every data file some commit of the table added (removed ones stay on disk for time travel)."""
    added = set()
    for commit in commits(folder):
        for line in commit.read_text().splitlines():
            action = json.loads(line)
            if "add" in action:
                added.add(action["add"]["path"])
    return added


def uncommitted(folder: Path) -> set[str]:
    """Files of writes that did not commit (for the model cache: a staging folder's files).

    Delta leaves out of its commit the empty file a task with no rows writes: not counted.
    """
    if folder.name == "models":
        return {f for f in data_files(folder) if any(part.startswith(".") for part in Path(f).parts)}
    return {f for f in data_files(folder) - committed_files(folder) if not f.endswith(".crc") and not empty(folder / f)}


def empty(path: Path) -> bool:
    """Whether `path` is a whole Parquet file of no rows (a file cut short by a kill is not)."""
    try:
        return path.suffix == ".parquet" and pq.read_metadata(path).num_rows == 0
    except (OSError, ValueError):
        return False


def start(lake: Lake, job: Job, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("w") as out:
        return subprocess.Popen(
            [ATELIER, *job.args, *lake.settings()],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def run(lake: Lake, job: Job, plan: Run, rng: random.Random, n: int) -> Run:
    """Start the job; kill its process group at `plan.kill_at`, or soon after `plan.aim` gets a new file."""
    folders = {t: lake.folder(t) for t in {*job.tables, *job.aims}}
    before = {t: data_files(f) for t, f in folders.items()}
    versions = {t: len(commits(f)) for t, f in folders.items()}
    pending = {t: uncommitted(f) for t, f in folders.items()}
    plan.stale_lock = lake.derby_lock().exists()
    log = lake.root / f"run-{n}.log"
    began = time.monotonic()
    proc = start(lake, job, log)
    while proc.poll() is None:
        now = time.monotonic() - began
        if plan.aim and plan.kill_at is None and data_files(folders[plan.aim]) - before[plan.aim]:
            plan.kill_at = now + rng.uniform(0.0, AIM_JITTER_S)
        if plan.kill_at is not None and now >= plan.kill_at:
            os.killpg(proc.pid, signal.SIGKILL)
            plan.killed = True
            break
        time.sleep(0.02)
    code = proc.wait()
    plan.seconds = time.monotonic() - began
    plan.log = log.read_text()
    assert plan.killed or code == 0, f"run {n} of {job.args[0]} failed (exit {code}):\n{plan.log[-4000:]}"
    plan.commits = sum(len(commits(f)) - versions[t] for t, f in folders.items())
    plan.uncommitted = sum(len(uncommitted(f) - pending[t]) for t, f in folders.items())
    return plan


def plans(job: Job, clean: float, rng: random.Random) -> list[Run]:
    """KILLS kill plans in random order: stratified random moments over [0, clean], and AIMED aimed at a write."""
    timed = KILLS - AIMED
    found = [Run(clean * (i + rng.random()) / timed) for i in range(timed)]
    found += [Run(None, aim=job.aims[i % len(job.aims)]) for i in range(AIMED)]
    rng.shuffle(found)
    return found


def crash_and_rerun(reference: Lake, lake: Lake, job: Job) -> Figures:
    """The reference run, KILLS killed runs on `lake` (more if one ends before its moment), the rerun."""
    began = time.monotonic()
    clean = run(reference, job, Run(None), random.Random(SEED), 0)
    figures = Figures(job.args[0], clean.seconds)
    rng = random.Random(SEED)
    planned = plans(job, clean.seconds, rng)
    while sum(r.killed for r in figures.runs) < KILLS and len(figures.runs) < 2 * KILLS:
        plan = planned.pop() if planned else Run(clean.seconds * rng.random())
        if plan.aim == "cache" and any(lake.folder("cache").glob("*/*/MLmodel")):  # downloaded: no write to aim at
            plan.aim = job.aims[1]
        figures.runs.append(run(lake, job, plan, rng, len(figures.runs) + 1))
    figures.runs.append(run(lake, job, Run(None), rng, len(figures.runs) + 1))  # the rerun: no clean-up before it
    print(f"\n{figures.line()} ({time.monotonic() - began:.0f}s in all)")
    for n, r in enumerate(figures.runs, start=1):
        how = f"killed at {r.seconds:5.1f}s" if r.killed else f"ran to the end in {r.seconds:.1f}s"
        print(
            f"  run {n:2d}: {how}{f' (aimed at {r.aim})' if r.aim else ''}: {r.commits} new version(s), "
            f"{r.uncommitted} uncommitted file(s){', stale Derby lock at start' if r.stale_lock else ''}"
        )
    return figures


def fingerprint(frame: DataFrame) -> tuple[int, int]:
    """Row count and an order-free hash of the rows: equal multisets of rows give equal fingerprints."""
    row = frame.select(
        F.count(F.lit(1)).alias("n"), F.sum(F.xxhash64(*frame.columns).cast("decimal(38,0)")).alias("h")
    ).first()
    return int(row["n"]), int(row["h"] or 0)


def check_tables(spark: SparkSession, reference: Lake, lake: Lake, job: Job, inputs: tuple[str, ...]) -> dict[str, int]:
    """The crashed lake has the reference's tables, each checked by `check_table`; their numbers of versions."""
    written = set(tables.Lake(spark, reference.platform()).names()) - set(inputs) - set(job.logs)
    assert set(tables.Lake(spark, lake.platform()).names()) - set(inputs) - set(job.logs) == written
    assert written <= set(job.tables), f"tables the test does not know: {written - set(job.tables)}"
    return {name: check_table(spark, reference, lake, name, job.tables[name]) for name in sorted(written)}


def check_table(spark: SparkSession, reference: Lake, lake: Lake, name: str, volatile: tuple[str, ...]) -> int:
    """Every version whole and equal to the reference; the last one exactly. The number of versions."""
    crashed = tables.Lake(spark, lake.platform())
    expected = tables.Lake(spark, reference.platform()).read(name).drop(*volatile)
    want = fingerprint(expected)
    folder = Path(crashed.path(name))
    logged = commits(folder)
    assert [int(c.stem) for c in logged] == list(range(len(logged))), f"{name}: versions not contiguous: {logged}"
    history = spark.sql(f"DESCRIBE HISTORY delta.`{folder}`").collect()
    assert sorted(h["version"] for h in history) == list(range(len(logged)))
    for h in history:
        assert int(h["operationMetrics"]["numOutputRows"]) == want[0], f"{name} version {h['version']}: {h}"
        got = fingerprint(crashed.read(name, h["version"]).drop(*volatile))
        assert got == want, f"{name} version {h['version']} holds {got[0]} rows unlike the reference's {want[0]}"
    final = crashed.read(name).drop(*volatile)
    assert final.count() == expected.count() > 0
    assert final.exceptAll(expected).count() == 0 and expected.exceptAll(final).count() == 0
    return len(logged)


def check_validation_log(spark: SparkSession, lake: Lake) -> None:
    """The validation log is appended to by each run that got that far: each run's records once."""
    crashed = tables.Lake(spark, lake.platform())
    records = crashed.read(VALIDATION_LOG)
    doubled = records.groupBy("run_id", "table_name", "date").count().filter("count > 1")
    assert doubled.count() == 0, doubled.collect()
    history = spark.sql(f"DESCRIBE HISTORY delta.`{crashed.path(VALIDATION_LOG)}`").collect()
    assert sum(int(h["operationMetrics"]["numOutputRows"]) for h in history) == records.count()


def lakes(root: Path, mlflow: MlflowConfig, inputs: Path, tables_: tuple[str, ...]) -> tuple[Lake, Lake]:
    """A reference lake and a lake to crash, each holding a copy of the job's input tables."""
    pair = Lake(root / "reference", mlflow), Lake(root / "crashed", mlflow)
    for lake in pair:
        for name in tables_:
            shutil.copytree(inputs / name.replace(".", "/"), lake.folder(name))
    return pair


def test_the_features_job_survives_kill_9(spark: SparkSession, training_lake: PlatformConfig, tmp_path: Path) -> None:
    inputs = Path(training_lake.lake_root)
    bronze = tuple(f"bronze.{p.name}" for p in (inputs / "bronze").iterdir())
    reference, lake = lakes(tmp_path, training_lake.mlflow, inputs, bronze)
    figures = crash_and_rerun(reference, lake, FEATURES)
    versions = check_tables(spark, reference, lake, FEATURES, bronze)
    check_validation_log(spark, lake)
    print(f"  features: every version whole: {versions}")
    assert sum(r.killed for r in figures.runs) >= KILLS and any(r.uncommitted for r in figures.runs)


def test_the_score_job_survives_kill_9(
    spark: SparkSession, training_lake: PlatformConfig, arms: dict[str, str], tmp_path: Path
) -> None:
    job = score_job(arms["champion"])
    inputs = ("gold.flight_features",)
    reference, lake = lakes(tmp_path, training_lake.mlflow, Path(training_lake.lake_root), inputs)
    figures = crash_and_rerun(reference, lake, job)
    versions = check_tables(spark, reference, lake, job, inputs)
    print(f"  score: every version whole: {versions}")
    assert sum(r.killed for r in figures.runs) >= KILLS and any(r.uncommitted for r in figures.runs)
    cached = Path(lake.platform().cache_dir) / "models" / MODEL / arms["champion"]
    assert (cached / "MLmodel").is_file()
