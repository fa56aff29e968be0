"""The canonical encoding computed in bulk by DuckDB, and a tight chain fold, for ledger exports in files.

For ledger exports in files (CSV, Parquet, JSON lines) encoding row by row in Python costs more than
reading the rows. Here the canonical bytes of :mod:`flightdeck.payments.ledger.canonical` are built by
one SQL expression per column in vectorized batches (no hashing in SQL: DuckDB's ``sha256`` costs more
than Python's OpenSSL one), so Python only runs the chain: one ``hashlib.sha256(previous +
canonical)`` per row, sequential by design. The expression must give byte-identical results to
:func:`~flightdeck.payments.ledger.canonical.canonical_row`; the tests check that on generated values.

:func:`broken_links` first folds the whole chain from its start and compares all values at once with
the stored ones (one bytes comparison); only when they differ does it check every link on its own
against the stored link before it, which names each modified row rather than only the first.

Supported DuckDB column types: integers, BOOLEAN, DECIMAL, VARCHAR, TIMESTAMP (naive = UTC),
TIMESTAMP WITH TIME ZONE, DATE, BLOB. Floating-point columns are refused: money is not stored in
floats, and their shortest text is not specified identically by both sides.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from decimal import Decimal

import duckdb
import pyarrow as pa

from flightdeck.payments.errors import LedgerError

__all__ = ["broken_links", "canonical_relation", "canonical_select", "fold_chain"]

_INTEGER = re.compile(r"^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|INT\d+|UHUGEINT)$")
_DECIMAL = re.compile(r"^DECIMAL\((\d+),(\d+)\)$")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _decimal_text(col: str, scale: int) -> str:
    """Normalized text of a DECIMAL(p, scale): trailing fractional zeros (and a bare point) dropped.
    Which digits are zero is found arithmetically (``x % 0.01 = 0``), far cheaper in DuckDB than
    trimming the text. A DECIMAL is a scaled integer, so there is no negative zero to fold."""
    text = f"CAST({col} AS VARCHAR)"
    if scale == 0:
        return text
    cases = [f"WHEN {col} % 1 = 0 THEN left({text}, -{scale + 1})"]
    for kept in range(1, scale):
        step = format(Decimal(1).scaleb(-kept), "f")
        cases.append(f"WHEN {col} % {step} = 0 THEN left({text}, -{scale - kept})")
    return f"(CASE {' '.join(cases)} ELSE {text} END)"


def _payload(name: str, duck_type: str) -> tuple[str, str]:
    """The field's tag and a SQL expression of its payload (NULL when the value is NULL)."""
    col = _ident(name)
    kind = duck_type.upper().replace(" ", "")
    if _INTEGER.match(kind):
        return "N", f"CAST({col} AS VARCHAR)"
    if kind == "BOOLEAN":
        return "N", f"CAST(CAST({col} AS INTEGER) AS VARCHAR)"
    if match := _DECIMAL.match(kind):
        return "N", _decimal_text(col, int(match.group(2)))
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
    in a subquery and joined with one ``concat``: each field's head ``tag || strlen(payload) || ':'``
    is NULL exactly when the value is, ``coalesce`` turns that into ``z0:``, and ``concat`` skips the
    NULL payload."""
    payloads = [_payload(name, duck_type) for name, duck_type in columns]
    inner = [f"{sql} AS _p{i}" for i, (_, sql) in enumerate(payloads)]
    inner += [f"{expr} AS {alias}" for expr, alias in keep]
    fields = ", ".join(
        f"coalesce('{tag}' || strlen(_p{i}) || ':', 'z0:'), _p{i}" for i, (tag, _) in enumerate(payloads)
    )
    outer = "".join(f"{alias}, " for _, alias in keep)
    return f"SELECT {outer}concat({fields}) AS canonical FROM (SELECT {', '.join(inner)} FROM {relation})"  # noqa: S608


def canonical_relation(
    conn: duckdb.DuckDBPyConnection, relation: str, columns: list[str], key: str, *, ordered: bool = True
) -> pa.Table:
    """``row_key`` (text) and ``canonical`` (binary: the row's canonical bytes) of every row of
    ``relation`` (a table name or a table function such as ``read_csv('ledger.csv')``), in key order
    (``ordered=False``: in the relation's own order, for exports already sorted by key)."""
    described = conn.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()  # noqa: S608 - caller's relation
    types = {str(r[0]): str(r[1]) for r in described}
    missing = [c for c in columns if c not in types]
    if missing:
        raise LedgerError(f"{relation}: no column(s) {', '.join(missing)}")
    keep = ((f"CAST({_ident(key)} AS VARCHAR)", "row_key"), (_ident(key), "_k"))
    inner = canonical_select([(c, types[c]) for c in columns], relation, keep)
    order = " ORDER BY _k" if ordered else ""
    sql = f"SELECT row_key, CAST(canonical AS BLOB) AS canonical FROM ({inner}){order}"  # noqa: S608
    return conn.sql(sql).to_arrow_table()


def _values(canonical: pa.Array | pa.ChunkedArray | Iterable[bytes]) -> Iterable[bytes]:
    if isinstance(canonical, pa.ChunkedArray | pa.Array):
        values: list[bytes] = canonical.to_pylist()
        return values
    return canonical


def fold_chain(start: bytes, canonical: pa.Array | pa.ChunkedArray | Iterable[bytes]) -> bytes:
    """All chain values over rows' canonical bytes, concatenated (``chain_n`` at ``32*(n-1)``)."""
    sha = hashlib.sha256
    out: list[bytes] = []
    append = out.append
    current = start
    for row in _values(canonical):
        current = sha(current + row).digest()
        append(current)
    return b"".join(out)


def broken_links(
    start: bytes, canonical: pa.Array | pa.ChunkedArray | Iterable[bytes], chain: bytes
) -> list[int]:
    """0-based positions of the links that do not follow from the stored link before them (``start``
    before the first) and their row: ``SHA-256(chain[i-1] || canonical[i]) != chain[i]``, where
    ``chain`` is the stored chain values concatenated (32 bytes each, one per row)."""
    rows = list(_values(canonical))
    if len(chain) != 32 * len(rows):
        raise LedgerError(f"{len(rows)} rows but {len(chain) / 32:g} stored chain values")
    if fold_chain(start, rows) == chain:
        return []
    sha = hashlib.sha256
    broken: list[int] = []
    previous = start
    for i, row in enumerate(rows):
        stored = chain[32 * i : 32 * i + 32]
        if sha(previous + row).digest() != stored:
            broken.append(i)
        previous = stored
    return broken
