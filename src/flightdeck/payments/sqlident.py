"""SQL identifiers taken from configuration, validated and quoted per dialect.

Table and column names in a ledger, wallets or settlements configuration end up inside SQL text
(identifiers cannot be bound as parameters). Each is validated as a plain identifier, optionally
schema-qualified (``schema.table``): letters, digits, ``_`` and ``$``, not starting with a digit,
at most 63 characters a part. Anything else (quotes, spaces, semicolons, comments) is refused with
``ValueError`` before any SQL is built, and valid names are quoted anyway (``"name"`` for PostgreSQL
and SQLite, backticks for MySQL/MariaDB) so reserved words work as column names.
"""

from __future__ import annotations

import re

from flightdeck.datasources import Dialect

__all__ = ["check_identifier", "quote_identifier"]

_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")


def check_identifier(name: str, *, qualified: bool = False) -> str:
    """``name`` itself when it is a safe identifier (``schema.table`` when ``qualified``)."""
    parts = name.split(".")
    if len(parts) > (2 if qualified else 1) or not all(_PART.match(p) for p in parts):
        what = "a table name (optionally schema.table)" if qualified else "a column name"
        raise ValueError(f"{name!r} is not {what}: use letters, digits and _ only")
    return name


def quote_identifier(name: str, dialect: Dialect, *, qualified: bool = False) -> str:
    """The quoted form of a validated identifier for ``dialect``."""
    check_identifier(name, qualified=qualified)
    quote = "`" if dialect is Dialect.MYSQL else '"'
    return ".".join(f"{quote}{part}{quote}" for part in name.split("."))
