"""The outcome file: how a job tells the task that ran it why it failed (standard library only).

A task sets $ATELIER_OUTCOME_FILE to a path of its own (one per run, task and try). When the job
ends on an AtelierError, `atelier.runtime.run_main` writes there its exit status and its error line,
`{"exit_status": 2, "error": "ValidationError: ..."}`; the task reads it after a failure to tell a
refused input (atelier.errors: retrying cannot help) from a failure worth retrying. The Spark
provider reports only "Cannot execute ... Error code is: N" and keeps the launcher's process
private, so this contract is atelier's own. The driver writes the file on its own machine: with a
driver in the task's process tree (client deploy mode, how the DAGs submit) the task reads it; with
none (no file), a failure is retried as any other.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from atelier.errors import EXIT_REFUSED

log = logging.getLogger(__name__)

ENV = "ATELIER_OUTCOME_FILE"


def record(exit_status: int, error: str) -> None:
    """Write the job's exit status and error to $ATELIER_OUTCOME_FILE when set; a failed write only warns,
    so that the job still ends with its own exit status."""
    path = os.environ.get(ENV)
    if not path:
        return
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps({"exit_status": exit_status, "error": error}))
    except OSError as exc:
        log.warning("could not write the outcome file %s: %s", path, exc)


def refusal(path: str) -> str | None:
    """The error of a job that refused its input and recorded it at `path`; None when it recorded no refusal."""
    try:
        found = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
    return found["error"] if found["exit_status"] == EXIT_REFUSED else None
