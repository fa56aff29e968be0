"""A small pool of SQLite connections (WAL mode), with every statement timed.

Writers take the database lock up front (``BEGIN IMMEDIATE``) so that two concurrent transactions
never deadlock upgrading a read lock; ``busy_timeout`` makes the second one wait its turn.

SQLite has no server to stop, so an outage is simulated where the service meets its database: while
:meth:`Database.go_down` is in force, lending a connection and every statement on a connection already
lent raise :class:`DatabaseUnavailable` (answered as 503 ``database_unavailable``), and readiness
reports the database failing — what a lost connection to a database server looks like to the service.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from flightdeck.demo.service.errors import ServiceError
from flightdeck.demo.service.metrics import ServiceMetrics
from flightdeck.demo.service.schema import SCHEMA, SCHEMA_VERSION

__all__ = ["Conn", "Database", "DatabaseUnavailable", "Row", "probe_database"]

Row = sqlite3.Row
Params = Sequence[Any]


class DatabaseUnavailable(ServiceError):
    """The database file cannot be opened or queried, or the connection to it is lost."""

    status = 503
    code = "database_unavailable"


class Conn:
    """One pooled connection; each statement is timed under an ``operation`` label."""

    def __init__(
        self, raw: aiosqlite.Connection, metrics: ServiceMetrics, db: Database | None = None
    ) -> None:
        self._raw = raw
        self._metrics = metrics
        self._db = db

    async def _run(self, operation: str, sql: str, params: Params) -> aiosqlite.Cursor:
        if self._db is not None:
            self._db.check_up()
        t0 = time.perf_counter()
        try:
            return await self._raw.execute(sql, params)
        finally:
            self._metrics.db_query_duration.labels(operation).observe(time.perf_counter() - t0)

    async def one(self, operation: str, sql: str, params: Params = ()) -> Row | None:
        cur = await self._run(operation, sql, params)
        row: Row | None = await cur.fetchone()
        await cur.close()
        return row

    async def all(self, operation: str, sql: str, params: Params = ()) -> list[Row]:
        cur = await self._run(operation, sql, params)
        rows = list(await cur.fetchall())
        await cur.close()
        return rows

    async def scalar(self, operation: str, sql: str, params: Params = ()) -> Any:
        row = await self.one(operation, sql, params)
        return None if row is None else row[0]

    async def insert(self, operation: str, sql: str, params: Params = ()) -> int:
        cur = await self._run(operation, sql, params)
        rowid = cur.lastrowid
        await cur.close()
        assert rowid is not None
        return rowid

    async def update(self, operation: str, sql: str, params: Params = ()) -> int:
        cur = await self._run(operation, sql, params)
        count = cur.rowcount
        await cur.close()
        return count

    async def begin(self) -> None:
        await self._raw.execute("BEGIN IMMEDIATE")

    async def commit(self) -> None:
        await self._raw.execute("COMMIT")

    async def rollback(self) -> None:
        await self._raw.execute("ROLLBACK")

    async def many(self, operation: str, sql: str, rows: Iterable[Params]) -> None:
        if self._db is not None:
            self._db.check_up()
        t0 = time.perf_counter()
        try:
            await self._raw.executemany(sql, rows)
        finally:
            self._metrics.db_query_duration.labels(operation).observe(time.perf_counter() - t0)


class Database:
    """``pool_size`` connections to one SQLite file; ``connection()`` lends one out."""

    def __init__(self, path: Path, metrics: ServiceMetrics, pool_size: int = 4) -> None:
        self.path = path
        self._metrics = metrics
        self._size = pool_size
        self._idle: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all: list[aiosqlite.Connection] = []
        self._in_use = 0
        self._down_reason: str | None = None

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(self._size):
            raw = await aiosqlite.connect(self.path, isolation_level=None, timeout=10)
            raw.row_factory = sqlite3.Row
            await raw.execute("PRAGMA journal_mode=WAL")
            await raw.execute("PRAGMA synchronous=NORMAL")
            await raw.execute("PRAGMA foreign_keys=ON")
            await raw.execute("PRAGMA busy_timeout=10000")
            self._all.append(raw)
            self._idle.put_nowait(raw)
        self._metrics.db_pool_size.set(self._size)
        await self._all[0].executescript(SCHEMA)
        async with self.transaction() as conn:
            if await conn.scalar("schema", "SELECT COUNT(*) FROM schema_version") == 0:
                await conn.insert(
                    "schema", "INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,)
                )

    async def close(self) -> None:
        for raw in self._all:
            await raw.close()
        self._all.clear()

    @property
    def in_use(self) -> int:
        return self._in_use

    @property
    def down(self) -> bool:
        return self._down_reason is not None

    def go_down(self, reason: str) -> None:
        """From now on every database operation fails as over a lost connection, until :meth:`come_back`."""
        self._down_reason = reason

    def come_back(self) -> None:
        self._down_reason = None

    def check_up(self) -> None:
        if self._down_reason is not None:
            raise DatabaseUnavailable(f"lost the connection to the database ({self._down_reason})")

    def probe(self) -> float:
        """:func:`probe_database` on this database's file, failing while the database is down."""
        self.check_up()
        return probe_database(self.path)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        self.check_up()
        raw = await self._idle.get()
        self._in_use += 1
        self._metrics.db_pool_in_use.set(self._in_use)
        try:
            yield Conn(raw, self._metrics, self)
        finally:
            self._in_use -= 1
            self._metrics.db_pool_in_use.set(self._in_use)
            self._idle.put_nowait(raw)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        """A write transaction: committed when the block ends, rolled back when it raises."""
        async with self.connection() as conn:
            await conn.begin()
            try:
                yield conn
            except BaseException:
                await conn.rollback()
                raise
            await conn.commit()


def probe_database(path: Path) -> float:
    """Open the database file afresh (never creating it) and query it; seconds taken.

    Raises :class:`DatabaseUnavailable` when the file is gone or unreadable. Pooled connections keep
    a deleted file alive, so readiness asks the file system, as a restarted process would.
    """
    t0 = time.perf_counter()
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=2)
        try:
            conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise DatabaseUnavailable(f"{path.name}: {exc}") from None
    return time.perf_counter() - t0
