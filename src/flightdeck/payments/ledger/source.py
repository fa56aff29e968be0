"""Reading a ledger table: rows in key order, streamed, from PostgreSQL, MySQL/MariaDB or SQLite.

Rows are read in batches through a server-side cursor (asyncpg cursor inside a read-only transaction;
an unbuffered ``SSCursor`` on MySQL; ``fetchmany`` on a ``mode=ro`` SQLite connection), so a ledger
of any size streams in constant memory. The key order is fixed so that flightdeck can merge the rows
with its chain and tell an inserted row from a deleted one:

- integer keys in numeric order;
- text keys in code-point order (``COLLATE "C"`` on PostgreSQL, ``BINARY`` on MySQL, SQLite's default
  ``BINARY``), which is also Python's ``str`` order;
- other keys (UUID) in the database's natural order, compared as their text.

MariaDB connections set ``time_zone = '+00:00'`` so TIMESTAMP columns read as UTC; on SQLite,
columns declared DATE/TIME/TIMESTAMP are parsed from their ISO text, so the same row gives the same
canonical bytes from every driver (see :mod:`flightdeck.payments.ledger.canonical`).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import sqlite3
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import cast
from urllib.parse import quote

import aiomysql
import asyncpg
import pymysql

from flightdeck.config.payments import LedgerConfig
from flightdeck.datasources import (
    DatabaseUrl,
    DatasourceError,
    Dialect,
    connect_mysql,
    connect_postgres,
    read_only_query,
)
from flightdeck.payments.errors import LedgerError
from flightdeck.payments.sqlident import quote_identifier

__all__ = ["KeyKind", "LedgerSource", "Row", "key_before"]

Row = Sequence[object]


class KeyKind(enum.StrEnum):
    INTEGER = "integer"
    TEXT = "text"
    OTHER = "other"
    EMPTY = "empty"  # the table has no rows: nothing to order


def key_before(kind: KeyKind, key: object, chained: str) -> bool:
    """Whether a source key sorts before a key stored in the chain (in the order rows are read)."""
    if kind is KeyKind.INTEGER:
        try:
            return int(key) < int(chained)  # type: ignore[call-overload,no-any-return]
        except ValueError:
            raise LedgerError(f"chained key {chained!r} is not an integer like the table's keys") from None
    return str(key) < chained


def _sqlite_converter(declared: str) -> Callable[[object], object] | None:
    declared = declared.upper()
    if "TIME" in declared:
        return lambda v: datetime.fromisoformat(v) if isinstance(v, str) else v
    if "DATE" in declared:
        return lambda v: date.fromisoformat(v) if isinstance(v, str) else v
    if "DEC" in declared or "NUMERIC" in declared:
        return lambda v: Decimal(repr(v)) if isinstance(v, float) else v
    return None


@dataclass
class LedgerSource:
    """One ledger table in one database."""

    url: DatabaseUrl
    config: LedgerConfig
    connect_timeout: float = 10.0

    def _q(self, name: str, qualified: bool = False) -> str:
        try:
            return quote_identifier(name, self.url.dialect, qualified=qualified)
        except ValueError as exc:
            raise LedgerError(str(exc)) from None

    @property
    def key_index(self) -> int:
        return self.config.columns.index(self.config.key)

    def _select(self, kind: KeyKind, after: bool) -> str:
        cols = ", ".join(self._q(c) for c in self.config.columns)
        key = self._q(self.config.key)
        ordered = key
        if kind is KeyKind.TEXT:
            ordered = {
                Dialect.POSTGRESQL: f'{key} COLLATE "C"',
                Dialect.MYSQL: f"BINARY {key}",
                Dialect.SQLITE: f"{key} COLLATE BINARY",
            }[self.url.dialect]
        param = {Dialect.POSTGRESQL: "$1", Dialect.MYSQL: "%s", Dialect.SQLITE: "?"}[self.url.dialect]
        where = f" WHERE {ordered} > {param}" if after else ""
        return f"SELECT {cols} FROM {self._q(self.config.table, True)}{where} ORDER BY {ordered}"  # noqa: S608 - identifiers validated and quoted

    async def key_kind(self) -> KeyKind:
        key, table = self._q(self.config.key), self._q(self.config.table, True)
        result = await self._query(f"SELECT {key} FROM {table} LIMIT 1")  # noqa: S608 - identifiers validated and quoted
        if not result:
            return KeyKind.EMPTY
        value = result[0][0]
        if isinstance(value, int) and not isinstance(value, bool):
            return KeyKind.INTEGER
        if isinstance(value, str):
            return KeyKind.TEXT
        return KeyKind.OTHER

    async def _query(self, sql: str) -> tuple[tuple[object, ...], ...]:
        try:
            result = await read_only_query(
                self.url, sql, max_rows=10_000, connect_timeout=self.connect_timeout
            )
        except DatasourceError as exc:
            raise LedgerError(f"ledger table {self.config.table}: {exc.reason}") from None
        return result.rows

    async def rows(
        self, kind: KeyKind, after: str | None = None, batch_size: int = 5000
    ) -> AsyncGenerator[list[Row], None]:
        """Batches of rows (configured columns, configured order) with key > ``after``, in key order."""
        if kind is KeyKind.EMPTY:
            kind = KeyKind.INTEGER
        bound: object = after
        if after is not None and kind is KeyKind.INTEGER:
            bound = int(after)
        sql = self._select(kind, after is not None)
        params: tuple[object, ...] = (bound,) if after is not None else ()
        gen = {
            Dialect.POSTGRESQL: self._pg_rows,
            Dialect.MYSQL: self._mysql_rows,
            Dialect.SQLITE: self._sqlite_rows,
        }[self.url.dialect](sql, params, batch_size)
        async with contextlib.aclosing(gen):
            async for batch in gen:
                yield batch

    async def _pg_rows(
        self, sql: str, params: tuple[object, ...], size: int
    ) -> AsyncGenerator[list[Row], None]:
        conn = await connect_postgres(self.url, connect_timeout=self.connect_timeout, read_only=True)
        try:
            async with conn.transaction(readonly=True, isolation="repeatable_read"):
                cursor = await conn.cursor(sql, *params)
                while True:
                    records = await cursor.fetch(size)
                    if not records:
                        break
                    yield cast("list[Row]", records)
        except asyncpg.PostgresError as exc:
            raise LedgerError(f"{self.url.where}: reading {self.config.table}: {exc}") from None
        finally:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    async def _mysql_rows(
        self, sql: str, params: tuple[object, ...], size: int
    ) -> AsyncGenerator[list[Row], None]:
        conn = await connect_mysql(self.url, connect_timeout=self.connect_timeout)
        try:
            async with conn.cursor(aiomysql.SSCursor) as cur:
                await cur.execute("SET SESSION time_zone = '+00:00'")
                await cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                await cur.execute(sql, params or None)
                while True:
                    rows = await cur.fetchmany(size)
                    if not rows:
                        break
                    yield list(rows)
            await conn.rollback()
        except pymysql.err.MySQLError as exc:
            raise LedgerError(f"{self.url.where}: reading {self.config.table}: {exc}") from None
        finally:
            conn.close()

    async def _sqlite_rows(
        self, sql: str, params: tuple[object, ...], size: int
    ) -> AsyncGenerator[list[Row], None]:
        assert self.url.path is not None
        try:
            path = Path(self.url.path).expanduser().absolute()  # noqa: ASYNC240 - no I/O
            conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, check_same_thread=False)
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.url.path}: {exc}") from None
        try:
            table = self.config.table.split(".")[-1]
            declared = {r[1]: str(r[2]) for r in conn.execute(f"PRAGMA table_info({self._q(table)})")}
            converters = [_sqlite_converter(declared.get(c, "")) for c in self.config.columns]
            active = [(i, f) for i, f in enumerate(converters) if f is not None]
            cur = conn.execute(sql, params)
            while True:
                rows = await asyncio.to_thread(cur.fetchmany, size)
                if not rows:
                    break
                if active:
                    converted: list[Row] = []
                    for row in rows:
                        values = list(row)
                        for i, fn in active:
                            values[i] = fn(values[i])
                        converted.append(values)
                    yield converted
                else:
                    yield rows
        except (sqlite3.Error, ValueError) as exc:
            raise LedgerError(f"{self.url.path}: reading {self.config.table}: {exc}") from None
        finally:
            conn.close()
