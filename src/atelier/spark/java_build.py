"""atelier's own Java classes for Spark, compiled once per machine from their sources in `spark/java`.

A jar is built with `javac` against the jars it needs and kept under `$ATELIER_CACHE/jars` (default
~/.cache/atelier), named by a digest of its sources and the names of those jars, so a new source
or a new stack builds a new jar and an unchanged one is reused.
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

SOURCES = Path(__file__).with_name("java")


def cache_root() -> Path:
    """atelier's per-machine cache: $ATELIER_CACHE, default ~/.cache/atelier."""
    return Path(os.environ.get("ATELIER_CACHE", Path.home() / ".cache" / "atelier"))


def compiled_jar(name: str, sources: list[Path], classpath: list[Path]) -> Path:
    """The jar of `sources` compiled against `classpath`; built (atomically) when missing."""
    digest = hashlib.sha256(
        b"".join(s.read_bytes() for s in sources) + "".join(sorted(j.name for j in classpath)).encode()
    ).hexdigest()
    folder = cache_root() / "jars"
    jar = folder / f"{name}-{digest[:12]}.jar"
    if jar.is_file():
        return jar
    javac, jar_tool = shutil.which("javac"), shutil.which("jar")
    if not javac or not jar_tool:
        raise RuntimeError(
            "javac and jar (a JDK 17, e.g. apt-get install openjdk-17-jdk-headless) build atelier's "
            f"{name} ({', '.join(str(s) for s in sources)})"
        )
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as build:
        classes = Path(build) / "classes"
        subprocess.run(
            [
                javac,
                "--release",
                "17",
                "-nowarn",
                "-cp",
                os.pathsep.join(str(j) for j in classpath),
                "-d",
                str(classes),
                *map(str, sources),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        subprocess.run([jar_tool, "cf", str(Path(build) / f"{name}.jar"), "-C", str(classes), "."], check=True)
        os.replace(Path(build) / f"{name}.jar", jar)  # concurrent builders: the last complete jar wins
    log.info("built %s", jar)
    return jar
