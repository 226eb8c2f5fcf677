"""The embedded Derby catalog's folder: its URL, and setting aside a database whose creation was killed."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

DATABASE = "metastore_db"
# Derby writes service.properties once a new database is complete, and keeps service.propertiesold while it rewrites it.
SERVICE_FILES = ("service.properties", "service.propertiesold")


def embedded_url(metastore_dir: Path) -> str:
    """The JDBC URL of the embedded Derby catalog under `metastore_dir`, created on first use."""
    return f"jdbc:derby:;databaseName={metastore_dir / DATABASE};create=true"


def set_aside_unfinished(metastore_dir: Path) -> None:
    """Rename a Derby database that has no service properties (its first boot was killed) out of the way.

    Derby refuses such a folder ("Perhaps Derby was brought down in the middle of creating this
    database") on every later boot; it holds no catalog entry yet, so the next boot creates the
    database anew. The folder is kept beside it, renamed.
    Embedded Derby boots in one process at a time, so no other process is creating it now.
    """
    database = metastore_dir / DATABASE
    if not database.is_dir() or any((database / name).exists() for name in SERVICE_FILES):
        return
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    aside = database.with_name(f"{DATABASE}.unfinished-{stamp}")
    database.rename(aside)
    log.warning(
        "the Derby catalog %s was never fully created (a process died creating it): moved to %s, a new one is created",
        database,
        aside,
    )
