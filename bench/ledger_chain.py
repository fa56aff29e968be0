"""Hash-chain verification throughput: from a local ledger export (CSV) and from PostgreSQL.

File: a ledger of ROWS rows is written as CSV and anchored once (keys, row digests and chain values
kept in a Parquet "chain file", as flightdeck's store would hold them). Verification then re-reads the
CSV, builds every row's canonical bytes in DuckDB (one thread, no hashing in SQL), compares keys with
the chain file, and runs the chain in Python (one SHA-256 per row) comparing every chain value with
the stored one (``vectorized.broken_links``).
Throughput is rows per CPU-second of this process (= per core; DuckDB is pinned to one thread).
The row-by-row Python path (what database sources use) is measured on a sample for comparison.

PostgreSQL: a 1M-row ledger table is anchored into a SQLite store and verified with
``flightdeck.payments.ledger.verify`` (asyncpg server-side cursor); rows/s of wall and CPU time.

    .venv/bin/python bench/ledger_chain.py                      # 5M-row file + 1M-row PostgreSQL
    .venv/bin/python bench/ledger_chain.py --rows 10000000 --pg-rows 0
    FLIGHTDECK_BENCH_PG_URL=postgresql://postgres@127.0.0.1:5432/test (default)
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from flightdeck.config.models import DatasourceConfig
from flightdeck.config.payments import LedgerConfig
from flightdeck.payments.ledger import anchor, canonical_row, genesis, verify
from flightdeck.payments.ledger.vectorized import broken_links, canonical_relation, fold_chain
from flightdeck.store import Store

COLUMNS = ["id", "tx", "account", "amount", "currency", "created_at"]
CSV_TYPES = (
    "{'id': 'BIGINT', 'tx': 'VARCHAR', 'account': 'VARCHAR', 'amount': 'DECIMAL(14,2)', "
    "'currency': 'VARCHAR', 'created_at': 'TIMESTAMP'}"
)


class Clock:
    """Wall and CPU (this process, all threads) time of a block."""

    def __enter__(self) -> Clock:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0


def write_ledger_csv(path: Path, rows: int) -> None:
    conn = duckdb.connect()
    conn.execute(
        f"""COPY (
            SELECT i AS id, 'tx-' || (i // 2) AS tx, 'acct-' || (i * 7919 % 100000) AS account,
                   CAST(((i * 37) % 100000 - 50000) / 100.0 AS DECIMAL(14,2)) AS amount,
                   CASE i % 3 WHEN 0 THEN 'EUR' WHEN 1 THEN 'USD' ELSE 'NGN' END AS currency,
                   TIMESTAMP '2026-01-01' + INTERVAL (i) MILLISECOND AS created_at
            FROM range(1, {rows + 1}) t(i)
        ) TO '{path}' (HEADER, DELIMITER ',')"""
    )


def relation(path: Path) -> str:
    return f"read_csv('{path}', header=true, columns={CSV_TYPES})"


def anchor_file(conn: duckdb.DuckDBPyConnection, csv: Path, chain: Path, ledger: str) -> None:
    bulk = canonical_relation(conn, relation(csv), COLUMNS, "id")
    canonical = bulk.column("canonical").to_pylist()
    links = fold_chain(genesis(ledger), canonical)
    digests = [hashlib.sha256(c).digest() for c in canonical]
    table = pa.table(
        {
            "row_key": bulk.column("row_key"),
            "row_hash": pa.array(digests, pa.binary(32)),
            "chain_hash": pa.array([links[i : i + 32] for i in range(0, len(links), 32)], pa.binary(32)),
        }
    )
    pq.write_table(table, chain)


def _fixed_buffer(column: pa.ChunkedArray) -> bytes:
    """The concatenated values of a binary(32) column without a per-value Python object."""
    array = pc.cast(column, pa.binary(32)).combine_chunks()
    data = array.buffers()[1]
    assert data is not None
    return data.to_pybytes()[array.offset * 32 : (array.offset + len(array)) * 32]


def verify_file(conn: duckdb.DuckDBPyConnection, csv: Path, chain: Path, ledger: str) -> dict[str, float]:
    times: dict[str, float] = {}
    t0 = time.process_time()
    # The export is written in key order; reading it in file order is safe because the keys are then
    # compared one by one with the chain's (an out-of-order file fails that comparison).
    bulk = canonical_relation(conn, relation(csv), COLUMNS, "id", ordered=False)
    times["read CSV + canonical bytes (DuckDB)"] = time.process_time() - t0
    t0 = time.process_time()
    stored = pq.read_table(chain, columns=["row_key", "chain_hash"])
    keys_equal = bulk.column("row_key").equals(stored.column("row_key"))
    stored_chain = _fixed_buffer(stored.column("chain_hash"))
    times["read chain file + compare keys"] = time.process_time() - t0
    t0 = time.process_time()
    canonical = bulk.column("canonical").to_pylist()
    times["canonical bytes to Python bytes"] = time.process_time() - t0
    t0 = time.process_time()
    broken = broken_links(genesis(ledger), canonical, stored_chain)
    times["chain: SHA-256 per row + compare (Python)"] = time.process_time() - t0
    if not keys_equal or broken:
        raise SystemExit("verification failed on an untouched file: the benchmark is broken")
    return times


def python_row_path(conn: duckdb.DuckDBPyConnection, csv: Path, sample: int) -> float:
    rows = conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM {relation(csv)} ORDER BY id LIMIT {sample}"
    ).fetchall()
    duck = canonical_relation(conn, f"(SELECT * FROM {relation(csv)} ORDER BY id LIMIT 1000)", COLUMNS, "id")
    assert [canonical_row(r) for r in rows[:1000]] == duck.column("canonical").to_pylist(), "encodings differ"
    assert isinstance(rows[0][3], Decimal)
    t0 = time.process_time()
    current = genesis("x")
    sha = hashlib.sha256
    for r in rows:
        current = sha(current + canonical_row(r)).digest()
    return len(rows) / (time.process_time() - t0)


def bench_file(rows: int, workdir: Path) -> None:
    csv, chain = workdir / "ledger.csv", workdir / "chain.parquet"
    print(f"writing {rows:,} rows to {csv} ...", flush=True)
    write_ledger_csv(csv, rows)
    conn = duckdb.connect()
    conn.execute("SET threads = 1")
    with Clock() as c:
        anchor_file(conn, csv, chain, "bench")
    print(f"anchored (chain file written) in {c.wall:.1f} s")
    best: Clock | None = None
    parts: dict[str, float] = {}
    for _ in range(3):
        with Clock() as c:
            parts = verify_file(conn, csv, chain, "bench")
        if best is None or c.cpu < best.cpu:
            best = c
    assert best is not None
    print(f"\nfile verification, {rows:,} rows, {csv.stat().st_size / 1e6:.0f} MB CSV, best of 3:")
    print(f"  CPU {best.cpu:.2f} s, wall {best.wall:.2f} s -> {rows / best.cpu:,.0f} rows/s per core")
    for name, seconds in parts.items():
        print(f"    {name:44s} {seconds:6.2f} s CPU  ({rows / seconds:,.0f} rows/s)")
    sample = min(rows, 500_000)
    print(
        f"  row-by-row Python path (database sources), {sample:,} rows: "
        f"{python_row_path(conn, csv, sample):,.0f} rows/s per core (canonicalize + 1 x SHA-256)"
    )


def bench_postgres(rows: int, url: str, workdir: Path) -> None:
    table = f"bench_ledger_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f"""CREATE TABLE {table} AS
                SELECT i::bigint AS id, 'tx-' || (i / 2) AS tx, 'acct-' || (i * 7919 % 100000) AS account,
                       (((i * 37) % 100000 - 50000) / 100.0)::numeric(14,2) AS amount,
                       (ARRAY['EUR','USD','NGN'])[i % 3 + 1] AS currency,
                       timestamp '2026-01-01' + i * interval '1 millisecond' AS created_at
                FROM generate_series(1::bigint, {rows}) i""".encode()
        )
        conn.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (id)".encode())
        conn.execute(f"ANALYZE {table}".encode())
    try:
        cfg = LedgerConfig(service="bench", datasource="pg", table=table, columns=COLUMNS)
        source = DatasourceConfig(url=url)  # type: ignore[arg-type]
        store = Store(f"sqlite:///{workdir / 'store.db'}")
        store.migrate()
        with Clock() as c:
            anchored = asyncio.run(anchor("pg", cfg, source, store, batch_size=10000))
        print(
            f"\nPostgreSQL {rows:,} rows: anchored in {c.wall:.1f} s "
            f"({anchored.anchored_rows / c.wall:,.0f} rows/s)"
        )
        with Clock() as c:
            result = asyncio.run(verify("pg", cfg, source, store, batch_size=10000))
        if result.tampered or result.rows_read != rows:
            raise SystemExit("verification failed on an untouched table: the benchmark is broken")
        print(
            f"  verify: wall {c.wall:.2f} s -> {rows / c.wall:,.0f} rows/s; flightdeck CPU {c.cpu:.2f} s -> "
            f"{rows / c.cpu:,.0f} rows/s per core (server-side cursor, 10,000-row batches, SQLite store)"
        )
        store.dispose()
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}".encode())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5_000_000, help="rows in the file benchmark (0: skip)")
    parser.add_argument(
        "--pg-rows", type=int, default=1_000_000, help="rows in the PostgreSQL benchmark (0: skip)"
    )
    args = parser.parse_args()
    url = os.environ.get("FLIGHTDECK_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
    print(f"python {sys.version.split()[0]}, duckdb {duckdb.__version__}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp:
        if args.rows:
            bench_file(args.rows, Path(tmp))
        if args.pg_rows:
            bench_postgres(args.pg_rows, url, Path(tmp))
    print(f"\nreproduce: .venv/bin/python bench/ledger_chain.py --rows {args.rows} --pg-rows {args.pg_rows}")


if __name__ == "__main__":
    main()
