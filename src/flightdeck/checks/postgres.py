"""``postgres``: is the database reachable and healthy, and does its schema match what the code expects?

Measurements: ``connect_ms``, ``ping_ms``, ``connections_used``, ``connections_max``,
``connections_used_pct``, ``long_queries``, ``longest_query_seconds``, ``db_size_bytes``, and when
configured ``missing_indexes`` and ``pending_migrations``. Missing indexes and pending migrations are
failures of the check's own expectations; everything else is judged by the user's conditions.
"""

from __future__ import annotations

import enum
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import asyncpg
from pydantic import Field, JsonValue, field_validator, model_validator

from flightdeck.checks.base import Check, Observation, register
from flightdeck.checks.dbconnect import connect_target
from flightdeck.config.base import ConfigModel
from flightdeck.config.check_spec import CheckSpec
from flightdeck.config.types import Name, PositiveDuration, RelPath
from flightdeck.datasources import (
    Dialect,
    connect_postgres,
    validate_target,
)
from flightdeck.errors import CheckError
from flightdeck.secret import Secret

__all__ = [
    "DEFAULT_MIGRATION_PATTERN",
    "IndexRequirement",
    "MigrationFile",
    "MigrationStatus",
    "MigrationTracking",
    "MigrationsSpec",
    "PostgresCheck",
    "PostgresSpec",
    "parse_index_requirement",
    "pending_migrations",
    "scan_migrations",
    "version_key",
]

QUERY_TEXT_CHARS = 200
LONG_QUERIES_IN_DETAIL = 10

_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_NAME_REQ = re.compile(rf"^\s*(?:(?P<schema>{_IDENT})\.)?(?P<name>{_IDENT})\s*$")
_COLS_REQ = re.compile(rf"^\s*(?:(?P<schema>{_IDENT})\.)?(?P<table>{_IDENT})\s*\((?P<cols>[^()]*)\)\s*$")


def _ident(token: str) -> str:
    """PostgreSQL's rule: unquoted names fold to lower case, quoted names are taken as written."""
    token = token.strip()
    if token.startswith('"'):
        return token[1:-1].replace('""', '"')
    return token.lower()


class IndexRequirement:
    """``name`` / ``schema.name`` (an index by name) or ``table(col, ...)`` (an index on those columns)."""

    __slots__ = ("columns", "name", "schema", "table", "text")

    def __init__(
        self,
        text: str,
        *,
        schema: str | None,
        name: str | None = None,
        table: str | None = None,
        columns: tuple[str, ...] = (),
    ) -> None:
        self.text = text
        self.schema = schema
        self.name = name
        self.table = table
        self.columns = columns


def parse_index_requirement(text: str) -> IndexRequirement:
    """Raises ``ValueError`` with an example when ``text`` is neither form."""
    m = _COLS_REQ.match(text)
    if m:
        cols = [c.strip() for c in m["cols"].split(",")]
        if not all(re.fullmatch(_IDENT, c) for c in cols):
            raise ValueError(f"{text!r}: columns must be plain names, e.g. 'payments(wallet_id, created_at)'")
        return IndexRequirement(
            text.strip(),
            schema=_ident(m["schema"]) if m["schema"] else None,
            table=_ident(m["table"]),
            columns=tuple(_ident(c) for c in cols),
        )
    m = _NAME_REQ.match(text)
    if m:
        return IndexRequirement(
            text.strip(), schema=_ident(m["schema"]) if m["schema"] else None, name=_ident(m["name"])
        )
    raise ValueError(
        f"{text!r} is neither an index name ('payments_wallet_id_idx') nor 'table(column, ...)' "
        "('payments(wallet_id)')"
    )


# ---------------------------------------------------------------------------------------------------
# Pending migrations: a directory of migration files against the rows of a migrations table

DEFAULT_MIGRATION_PATTERN = r"^(?:V(?P<flyway>\d+(?:[._]\d+)*)__|(?P<version>\d+(?:[.-]\d+)*)(?=[_.]|$))"
"""Flyway ``V1__x.sql`` / ``V1_1__x.sql`` / ``V1.1__x.sql``, or a number or timestamp before the first
``_`` or ``.``: golang-migrate ``0001_x.up.sql``, diesel ``2024-01-01-000000_x/``, numbered Alembic
revisions ``0002_x.py``, Rails/sqlx/dbmate ``20240101120000_x.sql``."""

_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")
_COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
MIGRATIONS_IN_DETAIL = 50

VersionKey = tuple[int, ...] | str


class MigrationTracking(enum.StrEnum):
    """How a tool records what it applied."""

    ROWS = "rows"  # one row per applied migration (diesel, Flyway, Rails, sqlx, dbmate)
    LATEST = "latest"  # only the current version (golang-migrate, Alembic)


class MigrationsSpec(ConfigModel):
    directory: RelPath = Field(description="Folder holding one file or folder per migration")
    table: str = Field(default="schema_migrations", description="Table recording applied migrations")
    column: str = Field(default="version", description="Column of that table holding the version")
    pattern: str = Field(
        default=DEFAULT_MIGRATION_PATTERN,
        description="Regular expression matched against each entry's name; its first group that "
        "matched is the version",
    )
    tracking: MigrationTracking = Field(
        default=MigrationTracking.ROWS,
        description="rows: every applied version is a row; latest: the table holds only the newest",
    )

    @field_validator("table")
    @classmethod
    def _table(cls, value: str) -> str:
        if not _TABLE_NAME.match(value):
            raise ValueError(f"{value!r} is not a table name (letters, digits, _ ; optionally schema.table)")
        return value

    @field_validator("column")
    @classmethod
    def _column(cls, value: str) -> str:
        if not _COLUMN_NAME.match(value):
            raise ValueError(f"{value!r} is not a column name")
        return value

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        if compiled.groups < 1:
            raise ValueError("needs a capturing group around the version, e.g. '^(\\d+)_'")
        return value


def version_key(text: str) -> VersionKey:
    """``"0001"`` → ``(1,)``; ``"2024-01-01-000000"`` → ``(20240101000000,)``; ``"1_1"``/``"1.1"`` →
    ``(1, 1)``; ``"1.0"`` → ``(1,)``. Anything else (``ae1027a6acf``) is compared as lower-case text."""
    parts = re.split(r"[._]", text.strip().replace("-", ""))
    if parts and all(p.isdigit() for p in parts):
        numbers = [int(p) for p in parts]
        while len(numbers) > 1 and numbers[-1] == 0:
            numbers.pop()
        return tuple(numbers)
    return text.strip().lower()


@dataclass(frozen=True)
class MigrationFile:
    name: str
    version: str

    @property
    def key(self) -> VersionKey:
        return version_key(self.version)


def scan_migrations(directory: Path, pattern: str) -> list[MigrationFile]:
    """The directory's entries (files or folders, not hidden) whose name matches, one per version,
    ordered by version. ``0001_x.up.sql`` and ``0001_x.down.sql`` are one migration."""
    try:
        entries = sorted(p.name for p in directory.iterdir() if not p.name.startswith("."))
    except FileNotFoundError:
        raise ValueError(f"migrations directory {directory} does not exist") from None
    except OSError as exc:
        raise ValueError(f"cannot read migrations directory {directory}: {exc.strerror or exc}") from None
    regex = re.compile(pattern)
    found: dict[VersionKey, MigrationFile] = {}
    for name in entries:
        m = regex.search(name)
        if m is None:
            continue
        version = next((g for g in m.groups() if g is not None), None)
        if not version:
            continue
        mf = MigrationFile(name=name, version=version)
        seen = found.get(mf.key)
        if seen is None or (".down." in seen.name and ".down." not in name):
            found[mf.key] = mf  # name a migration by its up file
    return sorted(found.values(), key=lambda f: _sortable(f.key))


def _sortable(key: VersionKey) -> tuple[int, tuple[int, ...], str]:
    return (0, key, "") if isinstance(key, tuple) else (1, (), key)


@dataclass(frozen=True)
class MigrationStatus:
    files: list[MigrationFile]
    applied: list[str]
    pending: list[MigrationFile]
    applied_without_file: list[str]

    def detail(self, table_exists: bool) -> dict[str, JsonValue]:
        return {
            "files": len(self.files),
            "applied": len(self.applied),
            "table_exists": table_exists,
            "latest_file": self.files[-1].name if self.files else None,
            "pending": [{"name": f.name, "version": f.version} for f in self.pending[:MIGRATIONS_IN_DETAIL]],
            "applied_without_file": list(self.applied_without_file[:MIGRATIONS_IN_DETAIL]),
        }


def pending_migrations(spec: MigrationsSpec, applied: list[str]) -> MigrationStatus:
    """Which files the database has not applied. Raises ``ValueError`` with a reason."""
    files = scan_migrations(spec.directory, spec.pattern)
    file_keys = {f.key for f in files}
    applied_keys = [version_key(v) for v in applied]
    if spec.tracking is MigrationTracking.ROWS:
        done = set(applied_keys)
        pending = [f for f in files if f.key not in done]
    else:
        numeric = [k for k in applied_keys if isinstance(k, tuple)]
        if len(numeric) != len(applied_keys):
            odd = next(v for v, k in zip(applied, applied_keys, strict=True) if not isinstance(k, tuple))
            raise ValueError(
                f"{spec.table}.{spec.column} holds {odd!r}, not a number: tracking: latest needs numbered "
                "versions (use tracking: rows, or number the migrations)"
            )
        newest = max(numeric, default=None)
        pending = [f for f in files if newest is None or (isinstance(f.key, tuple) and f.key > newest)]
    orphans = [v for v, k in zip(applied, applied_keys, strict=True) if k not in file_keys]
    return MigrationStatus(files=files, applied=applied, pending=pending, applied_without_file=orphans)


# ---------------------------------------------------------------------------------------------------
# The check


class PostgresSpec(CheckSpec):
    kind: Literal["postgres"]
    url: Secret | None = Field(default=None, description="postgresql:// URL (a secret; url_file works)")
    datasource: Name | None = Field(default=None, description="Name of a PostgreSQL entry in datasources")
    long_query_seconds: PositiveDuration = Field(
        default=60, description="A query running longer than this is long"
    )
    required_indexes: list[str] = Field(
        default_factory=list, description="Index names, or table(col, ...) that some index must cover"
    )
    migrations: MigrationsSpec | None = Field(
        default=None, description="Compare a migrations table with a directory of migration files"
    )

    @field_validator("required_indexes")
    @classmethod
    def _indexes(cls, value: list[str]) -> list[str]:
        for text in value:
            parse_index_requirement(text)
        return value

    @model_validator(mode="after")
    def _target(self) -> PostgresSpec:
        validate_target(self.url, self.datasource, {Dialect.POSTGRESQL}, "postgres")
        return self


_STATS_SQL = """
SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS used,
       current_setting('max_connections')::int AS max,
       current_setting('superuser_reserved_connections')::int AS reserved,
       pg_database_size(current_database()) AS size,
       current_setting('server_version') AS version
"""

_LONG_SQL = """
SELECT pid, datname, usename, state,
       EXTRACT(EPOCH FROM clock_timestamp() - query_start)::float8 AS seconds,
       left(query, $2::int) AS query
FROM pg_stat_activity
WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid()
  AND query_start < clock_timestamp() - make_interval(secs => $1::float8)
ORDER BY query_start
"""

_NAMED_INDEXES_SQL = """
SELECT n.nspname AS schema, c.relname AS name, i.indisvalid AS valid
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_index i ON i.indexrelid = c.oid
WHERE c.relname = ANY($1::text[])
"""

_TABLE_INDEXES_SQL = """
SELECT n.nspname AS schema, t.relname AS table, ic.relname AS name, i.indisvalid AS valid,
       i.indpred IS NOT NULL AS partial,
       array(SELECT a.attname::text
             FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
             LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE k.ord <= i.indnkeyatts
             ORDER BY k.ord) AS columns
FROM pg_index i
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE t.relname = ANY($1::text[])
"""


def _quote(name: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


@register
class PostgresCheck(Check[PostgresSpec]):
    spec_type = PostgresSpec

    async def observe(self, memo: JsonValue) -> Observation:
        spec = self.spec
        url, conn, connect_ms, obs = await connect_target(
            self, spec.url, spec.datasource, Dialect.POSTGRESQL, connect_postgres
        )
        finished = False
        try:
            t1 = time.perf_counter()
            await conn.fetchval("SELECT 1")
            ping_ms = (time.perf_counter() - t1) * 1000
            obs.measure("ping_ms", round(ping_ms, 3), "ms")
            await self._server_stats(conn, obs)
            await self._long_queries(conn, obs)
            if spec.required_indexes:
                await self._indexes(conn, obs)
            if spec.migrations is not None:
                await self._migrations(conn, obs, spec.migrations)
            finished = True
        except asyncpg.PostgresError as exc:
            raise CheckError(f"{url.where}: {url.clean(str(exc).splitlines()[0])}") from None
        except (asyncpg.InterfaceError, OSError) as exc:
            raise CheckError(
                f"{url.where}: connection lost: {url.clean(str(exc)) or type(exc).__name__}"
            ) from None
        finally:
            if finished:
                await _close(conn)
            else:  # an error or a cancellation (timeout): drop the connection at once
                conn.terminate()
        obs.summary = _summary(obs, connect_ms, ping_ms)
        return obs

    async def _server_stats(self, conn: asyncpg.Connection, obs: Observation) -> None:
        row = await conn.fetchrow(_STATS_SQL)
        assert row is not None
        used, max_conn = int(row["used"]), int(row["max"])
        obs.measure("connections_used", used)
        obs.measure("connections_max", max_conn)
        if max_conn > 0:
            obs.measure("connections_used_pct", round(100.0 * used / max_conn, 2), "%")
        obs.measure("db_size_bytes", int(row["size"]), "bytes")
        obs.detail["server_version"] = str(row["version"])
        obs.detail["superuser_reserved_connections"] = int(row["reserved"])

    async def _long_queries(self, conn: asyncpg.Connection, obs: Observation) -> None:
        rows = await conn.fetch(_LONG_SQL, float(self.spec.long_query_seconds), QUERY_TEXT_CHARS)
        obs.measure("long_queries", len(rows))
        obs.measure("longest_query_seconds", round(max((r["seconds"] for r in rows), default=0.0), 3), "s")
        listed: list[JsonValue] = [
            {
                "pid": int(r["pid"]),
                "seconds": round(float(r["seconds"]), 3),
                "database": r["datname"],
                "user": r["usename"],
                "query": _one_line(r["query"] or ""),
            }
            for r in sorted(rows, key=lambda r: -float(r["seconds"]))[:LONG_QUERIES_IN_DETAIL]
        ]
        obs.detail["long_queries"] = listed

    async def _indexes(self, conn: asyncpg.Connection, obs: Observation) -> None:
        reqs = [parse_index_requirement(t) for t in self.spec.required_indexes]
        search_path = list(await conn.fetchval("SELECT current_schemas(false)"))
        named = await conn.fetch(_NAMED_INDEXES_SQL, [r.name for r in reqs if r.name])
        by_table = await conn.fetch(_TABLE_INDEXES_SQL, [r.table for r in reqs if r.table])
        missing: list[str] = []
        for req in reqs:
            schemas = [req.schema] if req.schema else search_path
            if req.name is not None:
                found = [r for r in named if r["name"] == req.name and r["schema"] in schemas]
            else:
                found = [
                    r
                    for r in by_table
                    if r["table"] == req.table
                    and r["schema"] in schemas
                    and not r["partial"]
                    and tuple(r["columns"][: len(req.columns)]) == req.columns
                ]
            if any(r["valid"] for r in found):
                continue
            if found:
                obs.failures.append(
                    f"index {req.text} exists but is INVALID (a failed CREATE INDEX CONCURRENTLY?); "
                    "rebuild it"
                )
            else:
                obs.failures.append(f"missing index {req.text}")
            missing.append(req.text)
        obs.measure("missing_indexes", len(missing))
        obs.detail["missing_indexes"] = list(missing)

    async def _migrations(self, conn: asyncpg.Connection, obs: Observation, mig: MigrationsSpec) -> None:
        exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", _quote(mig.table))
        applied: list[str] = []
        if exists:
            # Both names are validated identifiers, quoted.
            sql = f"SELECT {_quote(mig.column)}::text FROM {_quote(mig.table)}"  # noqa: S608
            applied = [str(r[0]) for r in await conn.fetch(sql) if r[0] is not None]
        try:
            result = pending_migrations(mig, applied)
        except ValueError as exc:
            raise CheckError(str(exc)) from None
        obs.measure("pending_migrations", len(result.pending))
        obs.detail["migrations"] = result.detail(table_exists=bool(exists))
        if result.pending:
            names = ", ".join(m.name for m in result.pending[:5])
            more = f" (+{len(result.pending) - 5} more)" if len(result.pending) > 5 else ""
            where = "" if exists else f"; table {mig.table} does not exist"
            count = len(result.pending)
            obs.failures.append(f"{count} pending migration{'s' if count != 1 else ''}: {names}{more}{where}")


async def _close(conn: asyncpg.Connection) -> None:
    try:
        await conn.close(timeout=2)
    except Exception:
        conn.terminate()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _summary(obs: Observation, connect_ms: float, ping_ms: float) -> str:
    values = {m.name: m.value for m in obs.measurements}
    parts = [f"connect {connect_ms:.1f} ms", f"ping {ping_ms:.1f} ms"]
    if "connections_used_pct" in values:
        parts.append(f"connections {values['connections_used_pct']:g}%")
    long = int(values.get("long_queries", 0))
    if long:
        parts.append(f"{long} long quer{'y' if long == 1 else 'ies'}")
    return ", ".join(parts)
