"""What a database holds, described so that a backup and its restore can be compared.

Two descriptions, taken by the backup engine inside the dump's snapshot (and recorded in the manifest)
and again by a DR drill on the restored copy:

- :func:`schema_objects` — the schema objects by kind (``tables``, ``views``, ``indexes``,
  ``sequences``, ``functions``, ``triggers``, ``constraints``, ...), each a sorted list of names;
- :func:`table_hash` — a SHA-256 over every row of a table **in primary-key order** (all columns in
  order when the table has no primary key). Each row is the length-prefixed canonical encoding the
  ledger uses (:mod:`flightdeck.payments.ledger.canonical`: numbers normalized, times in UTC), extended
  for JSON (``J``: sorted keys, compact) and intervals (``I``: microseconds), and anything else by its
  text. Source and copy are read by the same driver, so equal rows give equal bytes.

Every function takes a DB-API connection that is already inside the transaction/snapshot to describe
(PostgreSQL: psycopg; MySQL/MariaDB: PyMySQL; SQLite: sqlite3) and the dialect.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from flightdeck.backups.manifest import TableHash
from flightdeck.datasources import Dialect
from flightdeck.errors import FlightdeckError

__all__ = ["TableHash", "hash_tables", "qualified_tables", "quote_name", "schema_objects", "table_hash"]

_FETCH = 5000


# -- schema objects -----------------------------------------------------------------------------------

_PG_OBJECTS: dict[str, str] = {
    "tables": """
        SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND {user_ns}""",
    "views": """
        SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'v' AND {user_ns}""",
    "materialized_views": """
        SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'm' AND {user_ns}""",
    "sequences": """
        SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'S' AND {user_ns}""",
    "indexes": """
        SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('i', 'I') AND {user_ns}""",
    "functions": """
        SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE {user_ns} AND NOT EXISTS (
            SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')""",
    "triggers": """
        SELECT n.nspname || '.' || c.relname || '.' || t.tgname FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT t.tgisinternal AND {user_ns}""",
    "constraints": """
        SELECT n.nspname || '.' || c.relname || '.' || k.conname FROM pg_constraint k
        JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {user_ns}""",
}
_PG_USER_NS = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'"

_MY_OBJECTS: dict[str, str] = {
    "tables": "SELECT table_name FROM information_schema.tables "
    "WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'",
    "views": "SELECT table_name FROM information_schema.views WHERE table_schema = DATABASE()",
    "indexes": "SELECT DISTINCT CONCAT(table_name, '.', index_name) FROM information_schema.statistics "
    "WHERE table_schema = DATABASE()",
    "triggers": "SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = DATABASE()",
    "routines": "SELECT CONCAT(routine_type, ' ', routine_name) FROM information_schema.routines "
    "WHERE routine_schema = DATABASE()",
    "constraints": "SELECT CONCAT(table_name, '.', constraint_name, ' ', constraint_type) "
    "FROM information_schema.table_constraints WHERE constraint_schema = DATABASE()",
}

_SQLITE_KINDS = {"table": "tables", "view": "views", "index": "indexes", "trigger": "triggers"}


def _column(conn: Any, query: str) -> list[str]:
    cur = conn.cursor()
    try:
        cur.execute(query)
        return sorted(str(r[0]) for r in cur.fetchall())
    finally:
        cur.close()


def schema_objects(conn: Any, dialect: Dialect) -> dict[str, list[str]]:
    """Every user schema object by kind, names sorted (kinds with no object are still listed)."""
    if dialect is Dialect.POSTGRESQL:
        return {k: _column(conn, q.format(user_ns=_PG_USER_NS)) for k, q in _PG_OBJECTS.items()}
    if dialect is Dialect.MYSQL:
        return {k: _column(conn, q) for k, q in _MY_OBJECTS.items()}
    out: dict[str, list[str]] = {kind: [] for kind in _SQLITE_KINDS.values()}
    rows = conn.execute(
        "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
    ).fetchall()
    for kind, name in rows:
        if kind in _SQLITE_KINDS:
            out[_SQLITE_KINDS[kind]].append(str(name))
    return {k: sorted(v) for k, v in out.items()}


# -- row hashes ---------------------------------------------------------------------------------------


def _encode(value: object, encode_value: Callable[[object], bytes]) -> bytes:
    if isinstance(value, dict | list):
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
        return b"J%d:%s" % (len(text), text)
    if isinstance(value, timedelta):
        micros = str((value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds).encode()
        return b"I%d:%s" % (len(micros), micros)
    try:
        return encode_value(value)
    except FlightdeckError:
        text = str(value).encode()
        return b"X%d:%s" % (len(text), text)


def _quote(dialect: Dialect, name: str) -> str:
    if dialect is Dialect.MYSQL:
        return "`" + name.replace("`", "``") + "`"
    return '"' + name.replace('"', '""') + '"'


def quote_name(dialect: Dialect, name: str) -> str:
    """A possibly dotted name (``schema.table``, ``table.column``) quoted part by part."""
    return ".".join(_quote(dialect, part) for part in name.split("."))


def _split(dialect: Dialect, table: str) -> tuple[str | None, str]:
    if dialect is Dialect.POSTGRESQL:
        schema, _, name = table.rpartition(".")
        return schema or "public", name
    return None, table


def _key_columns(conn: Any, dialect: Dialect, table: str) -> tuple[list[str], bool]:
    """The primary key's columns in key order, or every column when there is none (second: is a key)."""
    schema, name = _split(dialect, table)
    if dialect is Dialect.POSTGRESQL:
        pk = """SELECT a.attname FROM pg_index i
                JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                WHERE i.indrelid = (quote_ident(%s) || '.' || quote_ident(%s))::regclass AND i.indisprimary
                ORDER BY array_position(i.indkey, a.attnum)"""
        every = """SELECT column_name FROM information_schema.columns
                   WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position"""
        params: tuple[str, ...] = (schema or "public", name)
    elif dialect is Dialect.MYSQL:
        pk = """SELECT column_name FROM information_schema.key_column_usage
                WHERE table_schema = DATABASE() AND table_name = %s AND constraint_name = 'PRIMARY'
                ORDER BY ordinal_position"""
        every = """SELECT column_name FROM information_schema.columns
                   WHERE table_schema = DATABASE() AND table_name = %s ORDER BY ordinal_position"""
        params = (name,)
    else:
        info = conn.execute(f"PRAGMA table_info({_quote(dialect, name)})").fetchall()
        keyed = sorted((r for r in info if r[5]), key=lambda r: r[5])
        return ([str(r[1]) for r in keyed], True) if keyed else ([str(r[1]) for r in info], False)
    cur = conn.cursor()
    try:
        cur.execute(pk, params)
        keys = [str(r[0]) for r in cur.fetchall()]
        if keys:
            return keys, True
        cur.execute(every, params)
        return [str(r[0]) for r in cur.fetchall()], False
    finally:
        cur.close()


def table_hash(conn: Any, dialect: Dialect, table: str) -> TableHash:
    """SHA-256 over the table's rows in key order; raises :class:`FlightdeckError` for a missing table."""
    from flightdeck.payments.ledger.canonical import encode_value  # the ledger's encoding, on first use

    order, _ = _key_columns(conn, dialect, table)
    if not order:
        raise FlightdeckError(f"table {table} does not exist (or has no columns)")
    schema, name = _split(dialect, table)
    source = (f"{_quote(dialect, schema)}." if schema else "") + _quote(dialect, name)
    query = f"SELECT * FROM {source} ORDER BY " + ", ".join(_quote(dialect, c) for c in order)  # noqa: S608
    h = hashlib.sha256()
    rows = 0
    if dialect is Dialect.POSTGRESQL:
        cur = conn.cursor(name="flightdeck_table_hash")  # server-side: the table is streamed
    elif dialect is Dialect.MYSQL:
        import pymysql.cursors

        cur = conn.cursor(pymysql.cursors.SSCursor)
    else:
        cur = conn.cursor()
    try:
        cur.execute(query)
        while batch := cur.fetchmany(_FETCH):
            for row in batch:
                h.update(b"".join([_encode(v, encode_value) for v in row]))
                h.update(b"\n")
            rows += len(batch)
    finally:
        cur.close()
    return TableHash(rows=rows, sha256=h.hexdigest(), order_by=order)


def qualified_tables(dialect: Dialect, names: Iterable[str]) -> list[str]:
    """Declared table names as the manifest names tables (PostgreSQL: ``schema.table``)."""
    if dialect is Dialect.POSTGRESQL:
        return [n if "." in n else f"public.{n}" for n in names]
    return list(names)


def hash_tables(conn: Any, dialect: Dialect, names: Iterable[str]) -> dict[str, TableHash]:
    return {t: table_hash(conn, dialect, t) for t in qualified_tables(dialect, names)}
