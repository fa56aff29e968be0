"""Insert a row unless a unique index already holds its key, without savepoints.

``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` on SQLite and PostgreSQL: a concurrent writer of
the same key makes this insert a no-op instead of an error, so the enclosing transaction stays
intact. (A savepoint would do on PostgreSQL, but on SQLite the driver opens no transaction before a
savepoint, so a write inside one would commit even if the enclosing transaction rolled back.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.sql.elements import ColumnElement, TextClause

__all__ = ["insert_if_absent"]


def insert_if_absent(
    conn: Connection,
    table: Table,
    values: Mapping[str, Any],
    index_elements: Sequence[str],
    index_where: ColumnElement[bool] | TextClause | None = None,
) -> int | None:
    """Insert ``values`` into ``table`` and return the new row's ``id``, or None when a row with the
    same ``index_elements`` (within the partial index's ``index_where``) already exists."""
    stmt: Any
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(table).values(**values)
    elif conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table).values(**values)
    else:  # pragma: no cover - the store runs on SQLite or PostgreSQL
        raise NotImplementedError(f"insert_if_absent on {conn.dialect.name}")
    stmt = stmt.on_conflict_do_nothing(index_elements=list(index_elements), index_where=index_where)
    row = conn.execute(stmt.returning(table.c.id)).first()
    return None if row is None else int(row[0])
