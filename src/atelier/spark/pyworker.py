"""The Python worker daemon of atelier's Spark sessions (`spark.python.daemon.module`): pyspark's own,
with zip archives' import directories kept while the archive is unchanged.

pyspark's worker calls `importlib.invalidate_caches()` at the start of every task, and on Python
3.10 and 3.11 that makes each zip importer re-read its archive's whole directory (CPython gh-103200,
fixed in 3.12; Spark calls it only when needed from SPARK-54744 on). Workers import pyspark from
`pyspark.zip`, which holds a dozen importers (one per package), so every task spent 0.1-0.2 s
re-reading it before its first row, about 10 times the work of scoring one day of flights.
Here an archive's directory is read again only when the file changed (size, mtime or inode), which is
when the re-read matters; the daemon installs that before it forks a worker, so every task gets it.
"""

from __future__ import annotations

import os
import sys
import zipimport

_ORIGINAL = zipimport.zipimporter.invalidate_caches
_READ: dict[str, tuple[int, int, int]] = {}  # archive -> its (mtime, size, inode) when its directory was last read


def invalidate_caches(self: zipimport.zipimporter) -> None:
    """Re-read the archive's directory if the archive changed since it was last read, else keep it."""
    try:
        stat = os.stat(self.archive)
    except OSError:
        _ORIGINAL(self)
        return
    signature = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    directory = zipimport._zip_directory_cache.get(self.archive)  # type: ignore[attr-defined]  # CPython private
    if directory is not None and _READ.get(self.archive) == signature:
        self._files = directory  # type: ignore[attr-defined]  # CPython private (3.11)
        return
    _ORIGINAL(self)
    _READ[self.archive] = signature


def install() -> None:
    """Keep unchanged archives' directories across `importlib.invalidate_caches()` (Python < 3.12 only)."""
    if sys.version_info < (3, 12):
        zipimport.zipimporter.invalidate_caches = invalidate_caches  # type: ignore[method-assign]  # the patch


if __name__ == "__main__":
    from pyspark.daemon import manager

    from atelier.spark import pyworker  # by its name, not as __main__: what workers see is atelier's

    pyworker.install()

    manager()
