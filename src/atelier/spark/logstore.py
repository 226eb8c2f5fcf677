"""atelier's Delta log store for lakes on a local file system, compiled once from its Java source.

`LinkLogStore` (java/atelier/delta/LinkLogStore.java) publishes each commit with a hard link, which
fails atomically when another process committed that version first; Delta's default for local paths
checks, then renames, and can lose a concurrent commit. The jar is built with `javac` against the
delta-storage jar in the Ivy cache and kept under `$ATELIER_CACHE/jars` (default ~/.cache/atelier),
named by a digest of its inputs.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("java") / "atelier" / "delta" / "LinkLogStore.java"
CLASS = "atelier.delta.LinkLogStore"
SETTING = "spark.delta.logStore.file.impl"  # Delta's log store for the `file` scheme


def logstore_jar(delta_storage: Path, hadoop_api: Path) -> Path:
    """The jar of LinkLogStore compiled against these jars; built (atomically) when missing."""
    digest = hashlib.sha256(SOURCE.read_bytes() + delta_storage.name.encode() + hadoop_api.name.encode()).hexdigest()
    folder = Path(os.environ.get("ATELIER_CACHE", Path.home() / ".cache" / "atelier")) / "jars"
    jar = folder / f"atelier-logstore-{digest[:12]}.jar"
    if jar.is_file():
        return jar
    javac, jar_tool = shutil.which("javac"), shutil.which("jar")
    if not javac or not jar_tool:
        raise RuntimeError("javac and jar (a JDK 17, e.g. apt-get install openjdk-17-jdk-headless) build atelier's "
                           f"Delta log store ({SOURCE})")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as build:
        classes = Path(build) / "classes"
        subprocess.run([javac, "--release", "17", "-nowarn", "-cp", f"{delta_storage}{os.pathsep}{hadoop_api}",
                        "-d", str(classes), str(SOURCE)], check=True, capture_output=True, text=True)
        subprocess.run([jar_tool, "cf", str(Path(build) / "logstore.jar"), "-C", str(classes), "."], check=True)
        os.replace(Path(build) / "logstore.jar", jar)  # concurrent builders: the last complete jar wins
    log.info("built %s", jar)
    return jar
