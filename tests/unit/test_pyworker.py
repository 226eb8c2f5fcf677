"""The worker daemon's zip importers (spark/pyworker.py): an unchanged archive keeps its directory
across `importlib.invalidate_caches()`, a changed one is read again, so new modules in it import."""

from __future__ import annotations

import importlib
import sys
import zipfile
import zipimport
from collections.abc import Iterator
from pathlib import Path

import pytest

from atelier.spark import pyworker


@pytest.fixture
def archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, list[str]]]:
    """A zip on sys.path holding module `zipped_one`, imported, and the list of its directory reads from now on."""
    path = tmp_path / "lib.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("zipped_one.py", "VALUE = 1\n")
    monkeypatch.syspath_prepend(str(path))
    monkeypatch.setattr(zipimport.zipimporter, "invalidate_caches", pyworker.invalidate_caches)
    monkeypatch.setattr(pyworker, "_READ", {})
    for name in ("zipped_one", "zipped_two"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert importlib.import_module("zipped_one").VALUE == 1
    reads: list[str] = []
    original = zipimport._read_directory
    monkeypatch.setattr(zipimport, "_read_directory", lambda p: (p == str(path) and reads.append(p)) or original(p))
    yield path, reads
    sys.path_importer_cache.pop(str(path), None)


def test_an_unchanged_archive_is_read_once_then_kept(archive: tuple[Path, list[str]]) -> None:
    path, reads = archive
    for _ in range(3):
        importlib.invalidate_caches()
    assert reads == [str(path)]  # the first call reads it (its state unknown until then), no more
    assert importlib.import_module("zipped_one").VALUE == 1


def test_a_changed_archive_is_read_again(archive: tuple[Path, list[str]]) -> None:
    path, reads = archive
    importlib.invalidate_caches()
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("zipped_two.py", "VALUE = 2\n")
    importlib.invalidate_caches()
    assert reads == [str(path)] * 2
    assert importlib.import_module("zipped_two").VALUE == 2


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="Python 3.12's zip importers invalidate lazily")
def test_install_replaces_the_zip_importers_invalidation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zipimport.zipimporter, "invalidate_caches", zipimport.zipimporter.invalidate_caches)
    pyworker.install()
    assert zipimport.zipimporter.invalidate_caches is pyworker.invalidate_caches
