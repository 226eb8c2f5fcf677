"""Names that reach SQL text or file paths: checked where they come in, quoted where SQL is built.

A name is an identifier: letters, digits and `_`, not starting with a digit (no spaces, dots,
quotes, `;`, `/` or `..`). A table name is `<database>.<table>`, two identifiers.
"""

from __future__ import annotations

import re

from atelier.errors import InputRefused

IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
IDENTIFIER_PATTERN = f"^{IDENTIFIER}$"
TABLE_NAME_PATTERN = f"^{IDENTIFIER}\\.{IDENTIFIER}$"
RULE = "letters, digits and _, not starting with a digit"


def check_identifier(value: str, argument: str) -> str:
    """`value` if it is an identifier; else InputRefused naming `argument` (e.g. "--use-case")."""
    if not re.fullmatch(IDENTIFIER, value):
        raise InputRefused(f"{argument} {value!r} is not a name ({RULE})")
    return value


def check_table_name(value: str, argument: str) -> tuple[str, str]:
    """(database, table) of `<database>.<table>`; else InputRefused naming `argument`."""
    if not re.fullmatch(f"{IDENTIFIER}\\.{IDENTIFIER}", value):
        raise InputRefused(f"{argument} {value!r} is not <database>.<table> (each {RULE})")
    database, _, table = value.partition(".")
    return database, table


def quoted(*parts: str) -> str:
    """The parts as one Spark SQL name, each in backticks (a backtick inside doubled): `db`.`table`."""
    return ".".join("`" + part.replace("`", "``") + "`" for part in parts)
