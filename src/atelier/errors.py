"""Typed errors: each names what failed and where, so a job log says what to fix.

Each error carries the exit status a job ends with (`runtime.run_main`), so that an orchestrator
knows whether running it again can help (docs/operations.md lists them):

- 2, REFUSED: bad input or configuration; the same run fails the same way, so it is not retried;
- 75, RETRY (sysexits' EX_TEMPFAIL): the job lost a race (a write in conflict with concurrent
  commits after all its attempts); a later run can succeed;
- 1, INTERNAL: a failure of the job itself (any unexpected exception, a failed training worker);
  retried, and reported with its traceback.
"""

from __future__ import annotations

EXIT_INTERNAL = 1
EXIT_REFUSED = 2
EXIT_RETRY = 75


class AtelierError(Exception):
    """Base class of the errors atelier raises on purpose: by default a refused input (exit status 2)."""

    exit_status = EXIT_REFUSED


class ConfigError(AtelierError):
    """A configuration file or key is missing, unknown or of the wrong type."""


class SourceError(AtelierError):
    """A source cannot be read as configured (file, column, type or date)."""


class TableError(AtelierError):
    """A table that a job needs is missing or holds no rows for the requested dates."""


class WriteConflict(TableError):
    """A write that conflicted with concurrent commits on every attempt: another job won the race."""

    exit_status = EXIT_RETRY


class InputRefused(AtelierError):
    """A command-line input atelier refuses on purpose: a statement that is not a read-only query,
    a folder an export or synth must not replace, a name that is not an identifier."""
