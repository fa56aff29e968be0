"""The canonical encoding and row hashes computed in bulk by DuckDB, and a tight chain fold.

For ledger exports in files (CSV, Parquet, JSON lines) hashing row by row in Python costs more than
reading the rows. Here the canonical bytes of :mod:`flightdeck.payments.ledger.canonical` are built by
one SQL expression per column and hashed with DuckDB's ``sha256`` in vectorized batches, so Python
only runs the chain (one SHA-256 per row, which is sequential by design). The expression must give
byte-identical results to :func:`~flightdeck.payments.ledger.canonical.canonical_row`; the tests
check that on generated values.

Supported DuckDB column types: integers, BOOLEAN, DECIMAL, VARCHAR, TIMESTAMP (naive = UTC),
TIMESTAMP WITH TIME ZONE, DATE, BLOB. Floating-point columns are refused: money is not stored in
floats, and their shortest text is not specified identically by both sides.
"""

from __future__ import annotations

import hashlib
import re

import duckdb
import pyarrow as pa

from flightdeck.payments.errors import LedgerError

__all__ = ["canonical_select", "fold_chain", "hash_relation"]

_INTEGER = re.compile(r"^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|INT\d+|UHUGEINT)$")
_DECIMAL = re.compile(r"^DECIMAL\((\d+),(\d+)\)$")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _payload(name: str, duck_type: str) -> tuple[str, str]:
    """The field's tag and a SQL expression of its payload (NULL when the value is NULL)."""
    col = _ident(name)
    kind = duck_type.upper().replace(" ", "")
    if _INTEGER.match(kind):
        return "N", f"CAST({col} AS VARCHAR)"
    if kind == "BOOLEAN":
        return "N", f"CAST(CAST({col} AS INTEGER) AS VARCHAR)"
    if match := _DECIMAL.match(kind):
        text = f"CAST({col} AS VARCHAR)"
        if int(match.group(2)) > 0:
            text = f"rtrim(rtrim({text}, '0'), '.')"
        return "N", f"(CASE WHEN {text} = '-0' THEN '0' ELSE {text} END)"
    if kind == "VARCHAR":
        return "S", f"nfc_normalize({col})"
    if kind in ("TIMESTAMP", "TIMESTAMP_US", "TIMESTAMP_MS", "TIMESTAMP_S", "TIMESTAMP_NS"):
        return "T", f"strftime(CAST({col} AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%fZ')"
    if kind in ("TIMESTAMPWITHTIMEZONE", "TIMESTAMPTZ"):
        return "T", f"strftime(timezone('UTC', {col}), '%Y-%m-%dT%H:%M:%S.%fZ')"
    if kind == "DATE":
        return "D", f"strftime({col}, '%Y-%m-%d')"
    if kind == "BLOB":
        return "B", f"lower(hex({col}))"
    raise LedgerError(f"column {name}: DuckDB type {duck_type} cannot be hashed in bulk")


def canonical_select(
    columns: list[tuple[str, str]], relation: str, keep: tuple[tuple[str, str], ...] = ()
) -> str:
    """SQL selecting ``canonical`` (a row's canonical text) from ``relation`` for ``(name, DuckDB
    type)`` columns, plus ``keep`` items given as ``(expression, alias)``. Payloads are computed once
    in a subquery and joined with one ``concat``: ``tag || strlen(payload) || ':' || payload`` is NULL
    exactly when the value is, and ``coalesce`` turns that into ``z0:``."""
    payloads = [_payload(name, duck_type) for name, duck_type in columns]
    inner = [f"{sql} AS _p{i}" for i, (_, sql) in enumerate(payloads)]
    inner += [f"{expr} AS {alias}" for expr, alias in keep]
    fields = ", ".join(
        f"coalesce('{tag}' || strlen(_p{i}) || ':' || _p{i}, 'z0:')" for i, (tag, _) in enumerate(payloads)
    )
    outer = "".join(f"{alias}, " for _, alias in keep)
    return f"SELECT {outer}concat({fields}) AS canonical FROM (SELECT {', '.join(inner)} FROM {relation})"  # noqa: S608


def hash_relation(
    conn: duckdb.DuckDBPyConnection, relation: str, columns: list[str], key: str, *, ordered: bool = True
) -> pa.Table:
    """``row_key`` (text) and ``row_hash`` (32-byte binary) of every row of ``relation`` (a table name
    or a table function such as ``read_csv('ledger.csv')``), in key order (``ordered=False``: in the
    relation's own order, for exports already sorted by key)."""
    described = conn.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()  # noqa: S608 - caller's relation
    types = {str(r[0]): str(r[1]) for r in described}
    missing = [c for c in columns if c not in types]
    if missing:
        raise LedgerError(f"{relation}: no column(s) {', '.join(missing)}")
    keep = ((f"CAST({_ident(key)} AS VARCHAR)", "row_key"), (_ident(key), "_k"))
    inner = canonical_select([(c, types[c]) for c in columns], relation, keep)
    order = " ORDER BY _k" if ordered else ""
    sql = f"SELECT row_key, unhex(sha256(canonical)) AS row_hash FROM ({inner}){order}"  # noqa: S608
    return conn.sql(sql).to_arrow_table()


def fold_chain(start: bytes, row_hashes: bytes) -> bytes:
    """All chain values for concatenated 32-byte row hashes, concatenated (``chain_n`` at ``32*(n-1)``)."""
    if len(row_hashes) % 32:
        raise LedgerError("row hashes must be 32 bytes each")
    sha = hashlib.sha256
    out: list[bytes] = []
    append = out.append
    current = start
    for i in range(0, len(row_hashes), 32):
        current = sha(current + row_hashes[i : i + 32]).digest()
        append(current)
    return b"".join(out)
