"""Typed errors: each names what failed and where, so a job log says what to fix."""
from __future__ import annotations


class AtelierError(Exception):
    """Base class of the errors atelier raises on purpose."""


class ConfigError(AtelierError):
    """A configuration file or key is missing, unknown or of the wrong type."""


class SourceError(AtelierError):
    """A source cannot be read as configured (file, column, type or date)."""


class TableError(AtelierError):
    """A table that a job needs is missing or holds no rows for the requested dates."""


class InputRefused(AtelierError):
    """A command-line input atelier refuses on purpose: a statement that is not a read-only query,
    a folder an export or synth must not replace, a name that is not an identifier."""
