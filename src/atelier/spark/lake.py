"""Where the lake lives: a local folder, or a URI on a Hadoop file system such as object storage (`s3a://`).

Locations are strings: a local lake gives absolute paths (as before), a URI lake gives URIs joined
with "/". Listings of a local lake use the operating system; of a URI lake, Hadoop's FileSystem of
the active SparkSession (its `spark.hadoop.*` settings: endpoint, credentials provider).
"""

from __future__ import annotations

import re
from pathlib import Path

from pyspark.sql import SparkSession

from atelier.config.platform import PlatformConfig
from atelier.errors import TableError

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
OBJECT_STORE_SCHEMES = ("s3a",)  # the schemes whose connector atelier adds (hadoop-aws)


def is_uri(root: str) -> bool:
    return bool(_URI.match(root))


def scheme(platform: PlatformConfig) -> str:
    """The lake's URI scheme; "file" for a local folder."""
    return platform.lake_root.split("://", 1)[0].lower() if is_uri(platform.lake_root) else "file"


def root(platform: PlatformConfig) -> str:
    """The lake's location: an absolute local path, or its URI without a trailing slash."""
    if is_uri(platform.lake_root):
        return platform.lake_root.rstrip("/")
    return str(Path(platform.lake_root).resolve())


def join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *parts])


def same_location(a: str, b: str) -> bool:
    """Whether two locations name the same folder (`file:` prefixes and trailing slashes aside)."""

    def norm(loc: str) -> str:
        return loc if is_uri(loc) and not loc.startswith("file:") else str(Path(re.sub(r"^file:(//)?", "", loc)))

    return norm(a).rstrip("/") == norm(b).rstrip("/")


def children(location: str) -> list[str] | None:
    """The names in folder `location`; None when there is no such folder."""
    if not is_uri(location):
        folder = Path(location)
        return [p.name for p in folder.iterdir()] if folder.is_dir() else None
    fs, path = _hadoop(location)
    if not fs.exists(path) or not fs.getFileStatus(path).isDirectory():
        return None
    return [status.getPath().getName() for status in fs.listStatus(path)]


def glob(location: str, pattern: str) -> list[str]:
    """The paths under `location` matching the glob `pattern` (e.g. "*/*/_delta_log"), relative to it."""
    if not is_uri(location):
        return [str(p.relative_to(location)) for p in Path(location).glob(pattern)]
    fs, path = _hadoop(join(location, pattern))
    prefix = fs.makeQualified(_hadoop(location)[1]).toString().rstrip("/") + "/"
    return [s.getPath().toString().removeprefix(prefix) for s in fs.globStatus(path) or []]


def _hadoop(location: str):  # noqa: ANN202 - py4j objects
    spark = SparkSession.getActiveSession()
    if spark is None:
        raise TableError(f"reading {location} needs a SparkSession (the lake is on {location.split('://')[0]})")
    assert spark._jvm is not None  # a running session's JVM view (None only before it starts)
    path = spark._jvm.org.apache.hadoop.fs.Path(location)
    return path.getFileSystem(spark._jsc.hadoopConfiguration()), path
