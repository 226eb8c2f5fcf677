"""atelier's Delta log store for lakes on a local file system, compiled once from its Java source.

`LinkLogStore` (java/atelier/delta/LinkLogStore.java) publishes each commit with a hard link, which
fails atomically when another process committed that version first; Delta's default for local paths
checks, then renames, and can lose a concurrent commit. The jar is built against the delta-storage
jar in the Ivy cache (`java_build`).
"""

from __future__ import annotations

from pathlib import Path

from atelier.spark.java_build import SOURCES, compiled_jar

SOURCE = SOURCES / "atelier" / "delta" / "LinkLogStore.java"
CLASS = "atelier.delta.LinkLogStore"
SETTING = "spark.delta.logStore.file.impl"  # Delta's log store for the `file` scheme


def logstore_jar(delta_storage: Path, hadoop_api: Path) -> Path:
    """The jar of LinkLogStore compiled against these jars."""
    return compiled_jar("atelier-logstore", [SOURCE], [delta_storage, hadoop_api])
