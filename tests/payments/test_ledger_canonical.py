"""The canonical encoding: pinned bytes, normalization rules, and DuckDB's bulk encoding identical to
the row-by-row one."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flightdeck.payments.errors import LedgerError
from flightdeck.payments.ledger.canonical import (
    canonical_row,
    chain_hash,
    encode_value,
    genesis,
    normalize_decimal,
    row_hash,
)
from flightdeck.payments.ledger.vectorized import (
    broken_links,
    canonical_relation,
    canonical_select,
    fold_chain,
)


def test_a_row_encodes_to_the_documented_bytes() -> None:
    row = [7, "caf\u0065\u0301", Decimal("-12.50"), None, datetime(2026, 1, 2, 3, 4, 5, 6), b"\x00\xff", True]
    assert canonical_row(row) == (
        b"N1:7" + "S5:caf\u00e9".encode() + b"N5:-12.5z0:T27:2026-01-02T03:04:05.000006ZB4:00ffN1:1"
    )
    assert row_hash(row) == hashlib.sha256(canonical_row(row)).digest()
    assert genesis("main") == hashlib.sha256(b"flightdeck-ledger:main").digest()
    # One SHA-256 per link: the previous value followed by the row's canonical bytes.
    assert (
        chain_hash(b"a" * 32, canonical_row(row)) == hashlib.sha256(b"a" * 32 + canonical_row(row)).digest()
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("12.50"), "12.5"),
        (Decimal("12.00"), "12"),
        (Decimal("1E+2"), "100"),
        (Decimal("-0.00"), "0"),
        (Decimal("0.001"), "0.001"),
        (Decimal("-7"), "-7"),
    ],
)
def test_decimals_are_normalized(value: Decimal, text: str) -> None:
    assert normalize_decimal(value) == text


def test_the_driver_type_of_a_value_does_not_change_its_bytes() -> None:
    # PostgreSQL numeric, SQLite REAL/INTEGER, MariaDB tinyint(1) and PostgreSQL boolean.
    assert encode_value(Decimal("12.50")) == encode_value(12.5) == b"N4:12.5"
    assert encode_value(Decimal("12.00")) == encode_value(12) == b"N2:12"
    assert encode_value(True) == encode_value(1)
    aware = datetime(2026, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1)))
    assert (
        encode_value(aware)
        == encode_value(datetime(2026, 1, 2, 3, 4, 5))
        == b"T27:2026-01-02T03:04:05.000000Z"
    )
    assert encode_value(date(2026, 1, 2)) == b"D10:2026-01-02"


def test_length_prefixes_keep_fields_apart() -> None:
    assert canonical_row(["ab", "c"]) != canonical_row(["a", "bc"])
    assert canonical_row([None]) != canonical_row([""]) != canonical_row(["z0:"])


def test_values_that_cannot_be_hashed_are_refused() -> None:
    with pytest.raises(LedgerError):
        encode_value(Decimal("NaN"))
    with pytest.raises(LedgerError):
        encode_value(object())


# NUL is left out: PostgreSQL text cannot hold it and DuckDB ends strings there.
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
rows = st.tuples(
    st.integers(-(2**62), 2**62),
    st.one_of(st.none(), texts),
    st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False, allow_infinity=False),
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1)),
    st.booleans(),
    st.binary(max_size=8),
    st.dates(min_value=date(1970, 1, 1), max_value=date(2200, 1, 1)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(rows, min_size=1, max_size=20))
def test_duckdb_bulk_encoding_equals_the_row_encoding(batch: list[tuple[object, ...]]) -> None:
    table = pa.table(
        {
            "id": pa.array([r[0] for r in batch], pa.int64()),
            "memo": pa.array([r[1] for r in batch], pa.string()),
            "amount": pa.array([r[2] for r in batch], pa.decimal128(14, 2)),
            "at": pa.array([r[3] for r in batch], pa.timestamp("us")),
            "flag": pa.array([r[4] for r in batch], pa.bool_()),
            "raw": pa.array([r[5] for r in batch], pa.binary()),
            "day": pa.array([r[6] for r in batch], pa.date32()),
        }
    )
    conn = duckdb.connect()
    conn.register("batch", table)
    columns = [(str(r[0]), str(r[1])) for r in conn.execute("DESCRIBE batch").fetchall()]
    got = [r[0].encode() for r in conn.execute(canonical_select(columns, "batch")).fetchall()]
    assert got == [canonical_row(r) for r in batch]


@pytest.mark.parametrize(
    ("duck_type", "values"),
    [
        ("DECIMAL(18,4)", ["-0.0000", "12.5000", "12.0500", "12.0050", "12.0005", "-7.1200", "100.0000"]),
        ("DECIMAL(9,1)", ["0.0", "-3.0", "3.5", "-10.0"]),
        ("DECIMAL(9,0)", ["0", "-3", "120"]),
    ],
)
def test_duckdb_decimal_normalization_equals_the_row_encoding(duck_type: str, values: list[str]) -> None:
    conn = duckdb.connect()
    conn.execute(f"CREATE TABLE d AS SELECT CAST(v AS {duck_type}) AS amount FROM unnest(?) t(v)", [values])
    got = [r[0].encode() for r in conn.execute(canonical_select([("amount", duck_type)], "d")).fetchall()]
    assert got == [canonical_row([Decimal(v)]) for v in values]


def _ledger_table(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(
        "CREATE TABLE ledger AS SELECT i AS id, 'acc-' || (i % 7) AS account, "
        "CAST((i * 3 - 40) / 4 AS DECIMAL(12,2)) AS amount, "
        "TIMESTAMP '2026-01-01 00:00:00' + INTERVAL (i) SECOND AS booked_at FROM range(1, 200) t(i)"
    )


def test_canonical_relation_and_fold_chain_match_the_row_path() -> None:
    conn = duckdb.connect()
    _ledger_table(conn)
    bulk = canonical_relation(conn, "ledger", ["id", "account", "amount", "booked_at"], "id")
    python_rows = conn.execute("SELECT id, account, amount, booked_at FROM ledger ORDER BY id").fetchall()
    assert bulk.column("row_key").to_pylist() == [str(r[0]) for r in python_rows]
    assert bulk.column("canonical").to_pylist() == [canonical_row(r) for r in python_rows]
    links = fold_chain(genesis("x"), bulk.column("canonical"))
    expected = genesis("x")
    for r in python_rows:
        expected = chain_hash(expected, canonical_row(r))
    assert links[-32:] == expected
    assert len(links) == 32 * len(python_rows)
    assert broken_links(genesis("x"), bulk.column("canonical"), links) == []


def test_broken_links_names_each_modified_row_and_an_edited_link() -> None:
    conn = duckdb.connect()
    _ledger_table(conn)
    columns = ["id", "account", "amount", "booked_at"]
    anchored = fold_chain(genesis("x"), canonical_relation(conn, "ledger", columns, "id").column("canonical"))
    conn.execute("UPDATE ledger SET amount = amount + 0.01 WHERE id IN (5, 150)")
    edited = canonical_relation(conn, "ledger", columns, "id").column("canonical")
    # Each link is checked against the stored link before it: only the edited rows fail, not every
    # row after the first edit.
    assert broken_links(genesis("x"), edited, anchored) == [4, 149]
    # A stored chain value overwritten: its own link and the next one no longer follow.
    rows = canonical_relation(conn, "ledger", columns, "id").column("canonical")
    chain = bytearray(fold_chain(genesis("x"), rows))
    chain[32 * 9 : 32 * 10] = bytes(32)
    assert broken_links(genesis("x"), rows, bytes(chain)) == [9, 10]
    with pytest.raises(LedgerError):
        broken_links(genesis("x"), rows, bytes(chain[:-32]))
