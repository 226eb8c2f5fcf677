"""A class-data-sharing archive for the tests' Spark JVMs: each one starts faster and loads its classes faster.

The suite starts some 60 driver JVMs (every `atelier` subprocess, spark-submit, Airflow task and
spark-sql shell), each loading the same ~20,000 classes of Spark, Hive, Delta and Hadoop. A
dynamic CDS archive (JDK 13+, `-XX:ArchiveClassesAtExit`) holds those classes parsed and verified;
a JVM started with `-XX:SharedArchiveFile` maps it instead. Measured on a one-day `validate` job
(spark-submit, the example lake), runs alternated: 51.5 -> 42.6 s, the session ready ~3.8 s after
launch instead of ~5.8 s; the rest is classes loaded faster while the job runs.

The archive is built once per stack (Java, PySpark's jars, the Ivy jars: their names, sizes and
times are in its file name) by one warm-up job (tests/jvm_warmup.py) and kept under the atelier
cache, with the two newest of other stacks. The options go in `SPARK_SUBMIT_OPTS`, which
spark-submit (and so pyspark, spark-sql and every job) gives the driver JVM; JVM warnings go to
stderr, so no command's output changes. A JVM whose classpath no longer matches the archive runs
without it (`-Xshare:auto`, the default).
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
from pathlib import Path

from atelier.config.platform import PlatformConfig
from atelier.spark.java_build import cache_root
from atelier.spark.session import ivy_jars_dir, spark_jars_dir, submit_args, submit_env

log = logging.getLogger(__name__)

WARMUP = Path(__file__).with_name("jvm_warmup.py")
QUIET = "-Xlog:disable -Xlog:all=warning:stderr"  # JVM warnings on stderr, never in a command's output
KEPT = 3  # archives kept per machine (~200 MB each): a few checkouts side by side each keep theirs


def archive_key() -> str:
    """What the archive depends on: the Java runtime and the jars the driver loads (names, sizes, times)."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else "java"  # the one spark-submit runs
    version = subprocess.run([java, "-version"], capture_output=True, text=True, check=True).stderr
    jars = sorted([*spark_jars_dir().glob("*.jar"), *ivy_jars_dir().glob("*.jar")])
    stamp = "\n".join([version, *(f"{j} {j.stat().st_size} {j.stat().st_mtime_ns}" for j in jars)])
    return hashlib.sha256(stamp.encode()).hexdigest()[:16]


def archive_path() -> Path:
    return cache_root() / "cds" / f"spark-driver-{archive_key()}.jsa"


def build_archive(target: Path, platform: PlatformConfig) -> None:
    """Run the warm-up job with `-XX:ArchiveClassesAtExit` and move its archive to `target` (atomically)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.partial")
    env = {**submit_env(platform), "SPARK_SUBMIT_OPTS": f"-XX:ArchiveClassesAtExit={partial} {QUIET}"}
    command = [
        str(Path(sys.executable).parent / "spark-submit"),
        *submit_args(platform),
        str(WARMUP),
        platform.lake_root,
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0 or not partial.exists():
        partial.unlink(missing_ok=True)
        raise RuntimeError(
            f"the JVM warm-up job failed (exit status {done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}"
        )
    os.replace(partial, target)
    for stale in sorted(target.parent.glob("spark-driver-*.jsa"), key=lambda a: a.stat().st_mtime)[:-KEPT]:
        stale.unlink(missing_ok=True)  # another stack's (an older venv or checkout): the newest KEPT stay


def driver_java_options(platform: PlatformConfig) -> str:
    """`SPARK_SUBMIT_OPTS` that map the archive (built first when missing); without it if it cannot be built."""
    try:
        target = archive_path()  # runs `java -version`
        if not target.exists():
            build_archive(target, platform)
            log.info(
                "class-data-sharing archive for the tests' JVMs: %s (%.0f MB)", target, target.stat().st_size / 1e6
            )
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        log.warning("no class-data-sharing archive for the tests' JVMs: %s", error)
        return ""
    return f"-XX:SharedArchiveFile={target} {QUIET}"
