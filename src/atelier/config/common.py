"""What every configuration model shares: strictness, the names that reach SQL, date ranges."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from atelier.identifiers import IDENTIFIER_PATTERN, TABLE_NAME_PATTERN

# Names that reach SQL text: an identifier (letters, digits, _), and `<database>.<table>` of two.
Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]
TableName = Annotated[str, Field(pattern=TABLE_NAME_PATTERN)]


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo must not silently fall back to a default.

    A model chosen by a tag (`type`, `action`, `role`) of a discriminated union has only the keys
    of that kind, so a key meant for another kind is an unknown key too.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


class DateRange(StrictModel):
    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def dates(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range((self.end - self.start).days + 1)]
