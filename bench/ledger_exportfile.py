"""``flightdeck ledger verify-file`` throughput on a 5M-row ledger export file.

The export file is generated directly (not through a database): the same 6-column ledger as
``bench/ledger_chain.py``, canonical bytes built by DuckDB with the canonical encoder of
``flightdeck.payments.ledger.vectorized`` (checked byte for byte against ``canonical_row`` on a
sample), the chain folded in Python, and a checkpoint at the last row signed with a fresh Ed25519
key. File and public key are cached under /var/tmp/flightdeck-ledger-export-bench (delete the folder
to regenerate). Verification is ``flightdeck.payments.ledger.exportfile.verify_file``, best of 3:
rows per CPU-second of this process (= per core: it is single-threaded) and per wall second.

    .venv/bin/python bench/ledger_exportfile.py                 # 5M rows
    .venv/bin/python bench/ledger_exportfile.py --rows 1000000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from flightdeck import __version__
from flightdeck.payments.ledger import canonical_row, genesis, key_id
from flightdeck.payments.ledger.exportfile import EXPORT_SCHEMA, ExportMetadata, verify_file
from flightdeck.payments.ledger.signing import Checkpoint, load_public_key, public_pem, sign_checkpoint
from flightdeck.payments.ledger.vectorized import canonical_relation, fold_chain

CACHE = Path("/var/tmp/flightdeck-ledger-export-bench")
COLUMNS = ["id", "tx", "account", "amount", "currency", "created_at"]
SOURCE = """(SELECT i AS id, 'tx-' || (i // 2) AS tx, 'acct-' || (i * 7919 % 100000) AS account,
       CAST(((i * 37) % 100000 - 50000) / 100.0 AS DECIMAL(14,2)) AS amount,
       CASE i % 3 WHEN 0 THEN 'EUR' WHEN 1 THEN 'USD' ELSE 'NGN' END AS currency,
       TIMESTAMP '2026-01-01' + INTERVAL (i) MILLISECOND AS created_at
FROM range({lo}, {hi}) t(i))"""
BATCH = 65536
LEDGER = "bench"


def generate(path: Path, key_path: Path, rows: int) -> None:
    conn = duckdb.connect()
    sample = conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM {SOURCE.format(lo=1, hi=1001)} ORDER BY id"
    ).fetchall()
    duck = canonical_relation(conn, SOURCE.format(lo=1, hi=1001), COLUMNS, "id")
    assert [canonical_row(r) for r in sample] == duck.column("canonical").to_pylist(), "encodings differ"
    private = Ed25519PrivateKey.generate()
    placeholder = sign_checkpoint(
        Checkpoint(LEDGER, rows, str(rows), "0" * 64, datetime.now(UTC), key_id(private.public_key())),
        private,
    )
    tmp = path.with_suffix(".tmp")
    current = genesis(LEDGER)
    step = 1_000_000
    # The checkpoint goes into the schema, written first: write rows, then rewrite the metadata below.
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, EXPORT_SCHEMA) as writer:
        for lo in range(1, rows + 1, step):
            hi = min(lo + step, rows + 1)
            part = canonical_relation(conn, SOURCE.format(lo=lo, hi=hi), COLUMNS, "id")
            for batch in part.to_batches(max_chunksize=BATCH):
                canonical = batch.column(1)
                links = fold_chain(current, canonical)
                current = links[-32:]
                n = batch.num_rows
                keys = batch.column(0)
                seq0 = int(keys[0].as_py())  # seq = id: ids start at 1 with no gaps
                writer.write_batch(
                    pa.record_batch(
                        [
                            pa.array(range(seq0, seq0 + n), pa.int64()),
                            keys,
                            canonical,
                            pa.FixedSizeBinaryArray.from_buffers(
                                pa.binary(32), n, [None, pa.py_buffer(links)]
                            ),
                        ],
                        schema=EXPORT_SCHEMA,
                    )
                )
            print(f"  {hi - 1:,} rows", flush=True)
    signed = sign_checkpoint(
        Checkpoint(
            LEDGER,
            rows,
            str(rows),
            current.hex(),
            placeholder.checkpoint.created_at,
            placeholder.checkpoint.key_id,
        ),
        private,
    )
    meta = ExportMetadata(
        LEDGER, genesis(LEDGER).hex(), signed.to_json(), signed, signed.checkpoint.key_id, __version__
    )
    schema = EXPORT_SCHEMA.with_metadata(meta.encode())
    with pa.memory_map(str(tmp)) as source, pa.OSFile(str(path), "wb") as sink:
        reader = pa.ipc.open_file(source)
        with pa.ipc.new_file(sink, schema) as writer:
            for i in range(reader.num_record_batches):
                writer.write_batch(reader.get_batch(i).replace_schema_metadata(schema.metadata))
    tmp.unlink()
    key_path.write_bytes(public_pem(private.public_key()))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5_000_000)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, pyarrow {pa.__version__}, {os.cpu_count()} cores")
    CACHE.mkdir(parents=True, exist_ok=True)
    path, key_path = CACHE / f"ledger-{args.rows}.arrow", CACHE / f"ledger-{args.rows}.pub"
    if not path.exists() or not key_path.exists():
        print(f"generating {path} ...", flush=True)
        generate(path, key_path, args.rows)
    public = load_public_key(key_path.read_bytes())
    best: tuple[float, float] | None = None
    for _ in range(3):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        result = verify_file(path, public)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        if not result.ok or result.rows != args.rows:
            raise SystemExit(f"verification failed on an untouched file: {result.failures()}")
        if best is None or cpu < best[0]:
            best = (cpu, wall)
    assert best is not None
    cpu, wall = best
    print(f"\nverify-file, {args.rows:,} rows, {path.stat().st_size / 1e6:.0f} MB Arrow IPC, best of 3:")
    print(
        f"  CPU {cpu:.2f} s -> {args.rows / cpu:,.0f} rows/s per core; "
        f"wall {wall:.2f} s -> {args.rows / wall:,.0f} rows/s"
    )
    print(f"\nreproduce: .venv/bin/python bench/ledger_exportfile.py --rows {args.rows}")


if __name__ == "__main__":
    main()
