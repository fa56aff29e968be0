"""Reaching the databases a configuration names: PostgreSQL, MySQL/MariaDB and SQLite.

Checks (``postgres``, ``mysql``, ``sql``) and later jobs (backups, reconciliation, DR drills) connect
through this module, so URL parsing, read-only enforcement, cancellation and error wording are the
same everywhere:

- :class:`DatabaseUrl` reads ``postgresql://``, ``mysql://`` / ``mariadb://`` and ``sqlite:///`` URLs
  (SQLAlchemy style; a ``+driver`` suffix is ignored) and describes the target without its password.
- :func:`connect_postgres` and :func:`connect_mysql` open one fresh connection. Driver and OS errors
  become :class:`DatasourceError` with a one-line reason that never contains the password.
- :func:`read_only_query` runs one statement in a transaction that the *database* keeps read-only
  (``BEGIN READ ONLY`` with ``default_transaction_read_only``; ``SET SESSION TRANSACTION READ ONLY``
  then ``START TRANSACTION READ ONLY``; a ``mode=ro`` SQLite connection with ``PRAGMA query_only``),
  always rolls back, and when cancelled stops the statement on the server (PostgreSQL cancel request,
  MySQL ``KILL QUERY``, SQLite interrupt).
- :func:`resolve_target` turns a check's ``url`` or ``datasource`` into a :class:`DatabaseUrl`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import sqlite3
import ssl
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

import aiomysql
import asyncpg
import pymysql
import pymysql.constants.CLIENT

from flightdeck.config.models import Config
from flightdeck.errors import FlightdeckError
from flightdeck.secret import MASK, Secret

__all__ = [
    "DatabaseUrl",
    "DatasourceError",
    "Dialect",
    "QueryResult",
    "ReadOnlyViolation",
    "connect_mysql",
    "connect_postgres",
    "is_mariadb",
    "kill_mysql_query",
    "read_only_query",
    "resolve_target",
    "validate_target",
]


class Dialect(enum.StrEnum):
    POSTGRESQL = "postgresql"
    MYSQL = "mysql"
    SQLITE = "sqlite"


_SCHEMES = {
    "postgresql": Dialect.POSTGRESQL,
    "postgres": Dialect.POSTGRESQL,
    "mysql": Dialect.MYSQL,
    "mariadb": Dialect.MYSQL,
    "sqlite": Dialect.SQLITE,
}


class DatasourceError(FlightdeckError):
    """A database could not be reached or refused a statement. ``reason`` is one line, password-free."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ReadOnlyViolation(DatasourceError):
    """The statement tried to change something and the database refused it."""


@dataclass(frozen=True)
class DatabaseUrl:
    """A parsed database URL. ``password`` stays a :class:`Secret`; :meth:`describe` omits it."""

    dialect: Dialect
    secret: Secret = field(repr=False)
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: Secret | None = field(default=None, repr=False)
    database: str | None = None
    path: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, url: str | Secret) -> DatabaseUrl:
        """Raises ``ValueError`` (message without the password) when the URL cannot be used."""
        raw = url.reveal() if isinstance(url, Secret) else url
        try:
            parts = urlsplit(raw)
            port = parts.port
        except ValueError:
            raise ValueError(
                "not a valid URL (is a special character in the password not %-encoded?)"
            ) from None
        scheme = parts.scheme.split("+")[0].lower()
        dialect = _SCHEMES.get(scheme)
        if dialect is None:
            raise ValueError(f"unsupported database URL scheme {scheme!r} (use postgresql, mysql or sqlite)")
        options = dict(parse_qsl(parts.query))
        if dialect is Dialect.SQLITE:
            # SQLAlchemy style: sqlite:///relative.db, sqlite:////absolute/path.db
            path = unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path)
            if not path or path == ":memory:":
                raise ValueError(
                    "a SQLite URL needs a file path: sqlite:///relative.db or sqlite:////abs/path.db"
                )
            return cls(dialect=dialect, secret=Secret(raw), path=path, options=options)
        password = unquote(parts.password) if parts.password is not None else None
        return cls(
            dialect=dialect,
            secret=Secret(raw),
            host=parts.hostname or options.get("host"),
            port=port,
            user=unquote(parts.username) if parts.username else None,
            password=Secret(password) if password is not None else None,
            database=unquote(parts.path.lstrip("/")) or None,
            options=options,
        )

    def with_database(self, database: str) -> DatabaseUrl:
        """The same server and credentials, another database (PostgreSQL, MySQL)."""
        parts = urlsplit(self.secret.reveal())
        return DatabaseUrl.parse(urlunsplit(parts._replace(path="/" + quote(database, safe=""))))

    def describe(self) -> str:
        """``user@host:port/database`` or ``sqlite:path``: safe for evidence and logs."""
        if self.dialect is Dialect.SQLITE:
            return f"sqlite:{self.path}"
        who = f"{self.user}@" if self.user else ""
        return f"{who}{self.where}/{self.database or ''}"

    @property
    def where(self) -> str:
        """``host:port`` (or the SQLite path), the prefix of connection error reasons."""
        if self.dialect is Dialect.SQLITE:
            return str(self.path)
        if self.host is None and "unix_socket" in self.options:
            return self.options["unix_socket"]
        default_port = 5432 if self.dialect is Dialect.POSTGRESQL else 3306
        return f"{self.host or 'localhost'}:{self.port or default_port}"

    def clean(self, text: str) -> str:
        """``text`` with the password and the raw URL masked: for reasons built from driver messages."""
        for needle in (self.secret.reveal(), self.password.reveal() if self.password else ""):
            if len(needle) >= 4:
                text = text.replace(needle, MASK)
        return text


def validate_target(
    url: Secret | None, datasource: str | None, dialects: Collection[Dialect], kind: str
) -> None:
    """For a spec's validator: exactly one of ``url`` / ``datasource``, and a URL of a fitting dialect."""
    if (url is None) == (datasource is None):
        raise ValueError("give either url (or url_file) or datasource, not both and not neither")
    if url is not None:
        parsed = DatabaseUrl.parse(url)
        if parsed.dialect not in dialects:
            wanted = " or ".join(f"{d.value}://" for d in dialects)
            raise ValueError(f"a {kind} check needs a {wanted} URL, not {parsed.dialect.value}")


def resolve_target(
    config: Config, url: Secret | None, datasource: str | None, dialects: Collection[Dialect], kind: str
) -> tuple[DatabaseUrl, float | None]:
    """The URL a check connects to and the datasource's connect timeout (``None`` for a plain URL)."""
    if url is not None:
        return DatabaseUrl.parse(url), None
    assert datasource is not None
    source = config.datasources.get(datasource)
    if source is None:
        raise DatasourceError(f"no datasource named {datasource!r}")
    parsed = DatabaseUrl.parse(source.url)
    if parsed.dialect not in dialects:
        raise DatasourceError(
            f"datasource {datasource!r} is a {parsed.dialect.value} database; a {kind} check cannot use it"
        )
    return parsed, source.connect_timeout


# ---------------------------------------------------------------------------------------------------
# PostgreSQL


def describe_os_error(exc: BaseException) -> str:
    """One-line reason for an OS, DNS or TLS error (shared wording with the checks)."""
    # Imported here: flightdeck.checks imports every check kind, and those import this module.
    from flightdeck.checks.errors import describe_os_error as describe

    return describe(exc)


def _postgres_dsn(url: DatabaseUrl) -> str:
    raw = url.secret.reveal()
    scheme, rest = raw.split("://", 1)
    return "postgresql://" + rest if "+" in scheme else raw


def _postgres_reason(url: DatabaseUrl, exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return f"{url.where}: connection timed out after {timeout:g}s"
    if isinstance(exc, OSError):
        return f"{url.where}: {describe_os_error(exc)}"
    if isinstance(exc, asyncpg.PostgresError):
        return f"{url.where}: {url.clean(_first_line(exc))}"
    return f"{url.where}: {url.clean(_first_line(exc)) or type(exc).__name__}"


async def connect_postgres(
    url: DatabaseUrl, *, connect_timeout: float, read_only: bool = False, application_name: str = "flightdeck"
) -> asyncpg.Connection:
    """A fresh asyncpg connection; ``read_only`` makes every transaction of the session read-only."""
    settings = {"application_name": application_name}
    if read_only:
        settings["default_transaction_read_only"] = "on"
    try:
        return await asyncpg.connect(
            dsn=_postgres_dsn(url), timeout=connect_timeout, statement_cache_size=0, server_settings=settings
        )
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
        raise DatasourceError(_postgres_reason(url, exc, connect_timeout)) from None


# ---------------------------------------------------------------------------------------------------
# MySQL / MariaDB


def _mysql_ssl(url: DatabaseUrl) -> ssl.SSLContext | None:
    ca = url.options.get("ssl_ca")
    wanted = url.options.get("ssl", "").lower() in ("1", "true", "yes", "required", "verify")
    if not ca and not wanted:
        return None
    return ssl.create_default_context(cafile=ca or None)


def _mysql_reason(url: DatabaseUrl, exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, pymysql.err.OperationalError) and exc.args and exc.args[0] in (2003, 2013):
        if isinstance(cause, TimeoutError | asyncio.TimeoutError):
            return f"{url.where}: connection timed out"
        if isinstance(cause, OSError):
            return f"{url.where}: {describe_os_error(cause)}"
    if isinstance(exc, pymysql.err.MySQLError) and len(exc.args) >= 2:
        return f"{url.where}: {url.clean(str(exc.args[1]))} (error {exc.args[0]})"
    if isinstance(exc, OSError):
        return f"{url.where}: {describe_os_error(exc)}"
    return f"{url.where}: {url.clean(_first_line(exc)) or type(exc).__name__}"


async def connect_mysql(url: DatabaseUrl, *, connect_timeout: float) -> Any:
    """A fresh aiomysql connection (autocommit off, utf8mb4) that accepts one statement per query.

    aiomysql always announces multi-statement support; it is withdrawn here before the handshake, so
    ``SELECT 1; DROP TABLE t`` is a syntax error on the server instead of two statements.
    """
    conn = aiomysql.Connection(
        host=url.host or "localhost",
        port=url.port or 3306,
        user=url.user or "root",
        password=url.password.reveal() if url.password else "",
        db=url.database,
        unix_socket=url.options.get("unix_socket"),
        charset=url.options.get("charset", "utf8mb4"),
        connect_timeout=connect_timeout,
        ssl=_mysql_ssl(url),
        autocommit=False,
        program_name="flightdeck",
    )
    conn.client_flag &= ~pymysql.constants.CLIENT.MULTI_STATEMENTS
    try:
        await asyncio.wait_for(conn._connect(), timeout=connect_timeout + 1)
    except TimeoutError:
        conn.close()
        raise DatasourceError(f"{url.where}: connection timed out after {connect_timeout:g}s") from None
    except (OSError, pymysql.err.MySQLError) as exc:
        conn.close()
        raise DatasourceError(_mysql_reason(url, exc)) from None
    return conn


def is_mariadb(conn: Any) -> bool:
    return "mariadb" in str(conn.get_server_info()).lower()


async def kill_mysql_query(url: DatabaseUrl, thread_id: int, connect_timeout: float = 5.0) -> None:
    """Stop the statement running on connection ``thread_id`` from a second connection."""
    killer = await connect_mysql(url, connect_timeout=connect_timeout)
    try:
        async with killer.cursor() as cur:
            await cur.execute(f"KILL QUERY {int(thread_id)}")
    finally:
        killer.close()


# ---------------------------------------------------------------------------------------------------
# Read-only queries


@dataclass(frozen=True)
class QueryResult:
    """Up to ``max_rows`` rows of one statement. ``types`` are the database's names for each column's
    type where the driver reports them (``int8``, ``numeric``, ``text``; MySQL type codes by name)."""

    columns: tuple[str, ...]
    types: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]
    more_rows: bool
    connect_ms: float
    query_ms: float


_PG_READ_ONLY = "25006"  # read_only_sql_transaction
_MYSQL_READ_ONLY = {1792, 1290, 1036}  # read-only transaction, --read-only server, read-only table


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _query_failed(url: DatabaseUrl, message: str, read_only: bool) -> DatasourceError:
    message = url.clean(message)
    if read_only:
        return ReadOnlyViolation(f"refused by the database: the query tried to write ({message})")
    return DatasourceError(f"query failed: {message}")


async def read_only_query(
    url: DatabaseUrl,
    sql: str,
    *,
    max_rows: int = 1000,
    connect_timeout: float = 10.0,
    statement_timeout: float | None = None,
) -> QueryResult:
    """Run one statement read-only on a fresh connection, fetch at most ``max_rows`` rows, roll back.

    Raises :class:`ReadOnlyViolation` when the statement tries to write and :class:`DatasourceError`
    for every other failure. Cancelling the awaiting task stops the statement on the server.
    """
    if url.dialect is Dialect.POSTGRESQL:
        return await _pg_query(url, sql, max_rows, connect_timeout, statement_timeout)
    if url.dialect is Dialect.MYSQL:
        return await _mysql_query(url, sql, max_rows, connect_timeout, statement_timeout)
    return await _sqlite_query(url, sql, max_rows, statement_timeout)


async def _pg_query(
    url: DatabaseUrl, sql: str, max_rows: int, connect_timeout: float, statement_timeout: float | None
) -> QueryResult:
    t0 = time.perf_counter()
    conn = await connect_postgres(url, connect_timeout=connect_timeout, read_only=True)
    connect_ms = (time.perf_counter() - t0) * 1000
    clean_exit = False
    try:
        # asyncpg sends a cancel request when the awaiting task is cancelled; the transaction
        # block then rolls back. Leaving the block by any path rolls back: nothing is ever committed.
        tx = conn.transaction(readonly=True)
        await tx.start()
        try:
            if statement_timeout is not None:
                ms = max(1, int(statement_timeout * 1000))
                await conn.execute(f"SET LOCAL statement_timeout = {ms}")
            t1 = time.perf_counter()
            stmt = await conn.prepare(sql)
            attrs = stmt.get_attributes()
            if attrs:
                cursor = await stmt.cursor()
                records = await cursor.fetch(max_rows + 1)
            else:  # no result columns (a write, a SET): run it so the database is the judge
                records = await stmt.fetch()
            query_ms = (time.perf_counter() - t1) * 1000
        finally:
            await tx.rollback()
        clean_exit = True
    except asyncpg.PostgresError as exc:
        raise _query_failed(url, _first_line(exc), exc.sqlstate == _PG_READ_ONLY) from None
    except (asyncpg.InterfaceError, OSError) as exc:
        raise DatasourceError(_postgres_reason(url, exc, connect_timeout)) from None
    finally:
        if clean_exit:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)
        else:
            conn.terminate()
    rows = tuple(tuple(r.values()) for r in records[:max_rows])
    return QueryResult(
        columns=tuple(a.name for a in attrs),
        types=tuple(a.type.name for a in attrs),
        rows=rows,
        more_rows=len(records) > max_rows,
        connect_ms=connect_ms,
        query_ms=query_ms,
    )


_MYSQL_TYPES = {
    v: k.lower() for k, v in vars(pymysql.constants.FIELD_TYPE).items() if isinstance(v, int) and k.isupper()
}


async def _mysql_query(
    url: DatabaseUrl, sql: str, max_rows: int, connect_timeout: float, statement_timeout: float | None
) -> QueryResult:
    t0 = time.perf_counter()
    conn = await connect_mysql(url, connect_timeout=connect_timeout)
    connect_ms = (time.perf_counter() - t0) * 1000
    thread_id = conn.thread_id()
    drained = False
    try:
        async with conn.cursor(aiomysql.SSCursor) as cur:
            # A session characteristic, not only the transaction's: DDL commits implicitly and would
            # otherwise run outside a START TRANSACTION READ ONLY.
            await cur.execute("SET SESSION TRANSACTION READ ONLY")
            if statement_timeout is not None:
                if is_mariadb(conn):
                    await cur.execute(f"SET SESSION max_statement_time = {statement_timeout:.3f}")
                else:
                    await cur.execute(
                        f"SET SESSION max_execution_time = {max(1, int(statement_timeout * 1000))}"
                    )
            await cur.execute("START TRANSACTION READ ONLY")
            t1 = time.perf_counter()
            try:
                await cur.execute(sql)
                description = cur.description or ()
                fetched = list(await cur.fetchmany(max_rows + 1)) if description else []
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await asyncio.shield(kill_mysql_query(url, thread_id))
                raise
            query_ms = (time.perf_counter() - t1) * 1000
            if len(fetched) <= max_rows:
                # All rows read: the connection is usable again, so roll back explicitly.
                await cur.fetchall()
                await conn.rollback()
                drained = True
    except pymysql.err.MySQLError as exc:
        code = exc.args[0] if exc.args else None
        if isinstance(exc, pymysql.err.OperationalError) and code in (2006, 2013):
            raise DatasourceError(_mysql_reason(url, exc)) from None
        message = f"{exc.args[1]} (error {code})" if len(exc.args) >= 2 else _first_line(exc)
        raise _query_failed(url, message, code in _MYSQL_READ_ONLY) from None
    finally:
        # Closing the socket ends the session; the server rolls back whatever is open.
        if drained:
            with contextlib.suppress(Exception):
                await conn.ensure_closed()
        conn.close()
    return QueryResult(
        columns=tuple(str(d[0]) for d in description),
        types=tuple(_MYSQL_TYPES.get(d[1], str(d[1])) for d in description),
        rows=tuple(tuple(r) for r in fetched[:max_rows]),
        more_rows=len(fetched) > max_rows,
        connect_ms=connect_ms,
        query_ms=query_ms,
    )


def _sqlite_path(url: DatabaseUrl) -> Path:
    assert url.path is not None
    return Path(url.path).expanduser()


def _sqlite_deny_attach(action: int, *_args: object) -> int:
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


async def _sqlite_query(
    url: DatabaseUrl, sql: str, max_rows: int, statement_timeout: float | None
) -> QueryResult:
    path = _sqlite_path(url)
    t0 = time.perf_counter()
    if not path.is_file():
        raise DatasourceError(f"{path}: no such SQLite database file")
    try:
        conn = sqlite3.connect(
            f"file:{quote(str(path.resolve()))}?mode=ro",
            uri=True,
            check_same_thread=False,
            isolation_level=None,
            timeout=5,
        )
        conn.execute("PRAGMA query_only = ON")
        conn.set_authorizer(_sqlite_deny_attach)
    except sqlite3.Error as exc:
        raise DatasourceError(f"{path}: cannot open SQLite database: {exc}") from None
    connect_ms = (time.perf_counter() - t0) * 1000

    def work() -> tuple[tuple[str, ...], list[tuple[object, ...]], float]:
        try:
            conn.execute("BEGIN")
            t1 = time.perf_counter()
            cur = conn.execute(sql)
            columns = tuple(d[0] for d in cur.description or ())
            fetched = [tuple(r) for r in cur.fetchmany(max_rows + 1)] if columns else []
            return columns, fetched, (time.perf_counter() - t1) * 1000
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            conn.close()

    def interrupt() -> None:
        with contextlib.suppress(sqlite3.ProgrammingError):  # already closed: nothing to stop
            conn.interrupt()

    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(None, work)
    timer = loop.call_later(statement_timeout, interrupt) if statement_timeout is not None else None
    try:
        columns, fetched, query_ms = await asyncio.shield(future)
    except asyncio.CancelledError:
        # Interrupt until the worker has let go: an interrupt that lands before the statement
        # starts is a no-op, so repeat it (for at most 5 s).
        for _ in range(100):
            interrupt()
            await asyncio.wait([future], timeout=0.05)
            if future.done():
                break
        raise
    except sqlite3.Error as exc:
        message = _first_line(exc)
        if message == "interrupted" and statement_timeout is not None:
            raise DatasourceError(
                f"query did not finish within {statement_timeout:g}s; interrupted"
            ) from None
        read_only = "readonly" in message or "read-only" in message or "not authorized" in message
        raise _query_failed(url, message, read_only) from None
    except ValueError as exc:
        raise DatasourceError(f"query failed: {_first_line(exc)}") from None
    finally:
        if timer is not None:
            timer.cancel()
    return QueryResult(
        columns=columns,
        types=tuple("" for _ in columns),
        rows=tuple(fetched[:max_rows]),
        more_rows=len(fetched) > max_rows,
        connect_ms=connect_ms,
        query_ms=query_ms,
    )
