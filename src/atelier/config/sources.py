"""The inputs of a use case: its entity, and each source with its format, schema and parse policy."""

from __future__ import annotations

import codecs
from typing import Literal

from pydantic import Field, field_validator, model_validator

from atelier.config.common import StrictModel

SPARK_TYPES = {"string", "int", "bigint", "double", "float", "boolean", "date", "timestamp"}


class EntityConfig(StrictModel):
    key: str
    natural_key: list[str] = Field(min_length=1)


class SourceConfig(StrictModel):
    """One input: where it is, its schema, and whether it is dated events or a reference snapshot.

    Text files (`csv`, `package`) are decoded in `encoding`; a line that does not decode, or a value
    that does not fit its column's type, is quarantined (`on_parse_error: quarantine`) or fails the
    job (`refuse`). More than `max_bad_share` of the collected dates' rows quarantined so fails it too.
    """

    kind: Literal["events", "reference"]
    format: Literal["csv", "parquet", "delta", "package"]
    path: str
    package: str | None = None
    date_expr: str | None = None
    columns: dict[str, str] = Field(min_length=1)
    outcome_columns: list[str] = Field(default_factory=list)
    options: dict[str, str] = Field(default_factory=dict)
    encoding: str = "utf-8"
    on_parse_error: Literal["quarantine", "refuse"] = "quarantine"
    max_bad_share: float = Field(0.01, ge=0, le=1)

    @field_validator("columns")
    @classmethod
    def _known_types(cls, columns: dict[str, str]) -> dict[str, str]:
        bad = {c: t for c, t in columns.items() if t not in SPARK_TYPES}
        if bad:
            raise ValueError(f"unknown column types {bad}; use one of {sorted(SPARK_TYPES)}")
        return columns

    @field_validator("encoding")
    @classmethod
    def _line_based_encoding(cls, encoding: str) -> str:
        """An encoding Python knows, in which a line ends with the byte 0x0a (files are checked line by line)."""
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(f"unknown encoding '{encoding}'") from None
        if "\n,".encode(encoding) != b"\n,":
            raise ValueError(f"encoding '{encoding}' is not ASCII-compatible (UTF-16 and UTF-32 are not supported)")
        return encoding

    @model_validator(mode="after")
    def _consistent(self) -> SourceConfig:
        if self.format == "package" and not self.package:
            raise ValueError("format 'package' needs 'package' (the Python package that ships the file)")
        if self.kind == "events" and not self.date_expr:
            raise ValueError("an 'events' source needs 'date_expr' (the SQL giving each row's date)")
        missing = [c for c in self.outcome_columns if c not in self.columns]
        if missing:
            raise ValueError(f"outcome_columns {missing} are not in columns")
        if {k.lower() for k in self.options} & {"encoding", "charset"}:
            raise ValueError("give the source's 'encoding', not options.encoding or options.charset")
        return self
