"""PostgreSQL backup and restore at 2 GB: flightdeck vs raw ``pg_dump | zstd`` and ``pg_restore -j``,
in one run.

1. **Database.** ``flightdeck_bench_backup`` on 127.0.0.1:5432 (user ``postgres``) is generated
   server-side (``INSERT ... SELECT generate_series``) until ``pg_database_size`` reaches
   ``--size-gb``: ``users``, ``payments`` and ``ledger_entries`` (two entries per payment) with text,
   numeric, timestamptz and jsonb columns, primary keys, a unique payment reference, secondary indexes
   and foreign keys; then ``VACUUM (FREEZE, ANALYZE)``. A database left by an earlier run with the same
   ``--size-gb`` is reused; it is dropped at the end unless ``--keep``.
2. **Backup**, alternating raw and flightdeck run by run (``--rounds`` of each):

   - custom format: ``pg_dump -Fc --compress=0 | zstd -3 -T1 -q > file`` vs ``run_backup`` with
     ``format: custom``, ``compression_level: 3``, local storage, no encryption — and again with
     encryption on (AES-256-GCM), against the same raw runs;
   - directory format: ``pg_dump -Fd -j N --compress=0 -f dir``, then ``tar -cf - dir | zstd -3 -T1 -q
     > file`` (and the directory removed) vs ``run_backup`` with ``format: directory, jobs: N``.

3. **Restore** into a fresh database each time (created inside the timed part on both sides, dropped
   between runs): raw ``pg_restore -j N --no-owner`` (i) from an already decoded directory and (ii)
   including ``zstd -d | tar -x`` of the raw directory backup, vs flightdeck ``restore_backup`` of its
   directory-format backup with ``jobs=N`` (which also verifies the SHA-256 before anything touches the
   target, and counts every table's rows afterwards).

Every run starts after ``sync`` and ``CHECKPOINT`` (not timed), so none pays for the previous one's
writeback. Wall time and bytes stored per run, the median of each side and the ratio flightdeck / raw
are printed and written to ``bench/results/backup_2gb.json``, with the load average and the machine's
CPU use during each run (other people's work included: it is a shared machine).

    .venv/bin/python bench/backup_2gb.py                      # about 30 minutes on 2 cores
    .venv/bin/python bench/backup_2gb.py --size-gb 0.2 --keep # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from flightdeck.backups.catalog import read_manifest  # noqa: E402
from flightdeck.backups.restore import restore_backup  # noqa: E402
from flightdeck.backups.run import open_storage, run_backup  # noqa: E402
from flightdeck.config.backups import BackupConfig  # noqa: E402
from flightdeck.config.models import DatasourceConfig  # noqa: E402
from flightdeck.datasources import DatabaseUrl  # noqa: E402

DB = "flightdeck_bench_backup"
HOST, PORT, USER = "127.0.0.1", 5432, "postgres"
ADMIN_URL = f"postgresql://{USER}@{HOST}:{PORT}/postgres"
GOAL_RATIO = 1.10
PG = ["-h", HOST, "-p", str(PORT), "-U", USER, "--no-password"]
RESULTS = ROOT / "bench" / "results" / "backup_2gb.json"
BENCH_KEY = "11" * 32  # a fixed benchmark key: what is measured is the cipher, not the key's secrecy

# -- the database -------------------------------------------------------------------------------------

SCHEMA = """
CREATE TABLE users (
    id bigint NOT NULL,
    email text NOT NULL,
    full_name text NOT NULL,
    country text NOT NULL,
    created_at timestamptz NOT NULL,
    profile jsonb NOT NULL
);
CREATE TABLE payments (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    reference text NOT NULL,
    amount numeric(14, 2) NOT NULL,
    fee numeric(12, 2) NOT NULL,
    currency text NOT NULL,
    status text NOT NULL,
    method text NOT NULL,
    description text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    metadata jsonb NOT NULL
);
CREATE TABLE ledger_entries (
    id bigint NOT NULL,
    payment_id bigint NOT NULL,
    account text NOT NULL,
    direction text NOT NULL,
    amount numeric(14, 2) NOT NULL,
    currency text NOT NULL,
    posted_at timestamptz NOT NULL,
    memo text
);
"""

USERS = """
INSERT INTO users
SELECT g,
       'user' || g || '@' || (ARRAY['example.com', 'mail.test', 'shop.test', 'corp.test'])[1 + g % 4],
       (ARRAY['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Ken', 'Dennis', 'Margaret'])[1 + (g * 7) % 8]
         || ' ' || (ARRAY['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Thompson', 'Ritchie',
                          'Hamilton'])[1 + (g * 13) % 8],
       (ARRAY['FR', 'DE', 'GB', 'US', 'ES', 'IT', 'NL', 'SE'])[1 + (g * 3) % 8],
       timestamptz '2021-01-01 00:00:00+00' + g * interval '97 seconds',
       jsonb_build_object(
         'tier', (ARRAY['free', 'pro', 'enterprise'])[1 + g % 3],
         'marketing_opt_in', g % 5 = 0,
         'locale', (ARRAY['en-GB', 'fr-FR', 'de-DE', 'en-US'])[1 + g % 4],
         'risk_score', round((random() * 100)::numeric, 2),
         'signup_ip', '10.' || (g % 256) || '.' || ((g / 256) % 256) || '.' || (g * 7 % 256))
FROM generate_series(1, %(users)s) g
"""

# Amounts are a function of the payment id, so both ledger entries of a payment carry its amount.
PAYMENTS = """
INSERT INTO payments
SELECT g,
       1 + (g * 7919) %% %(users)s,
       'pay_' || substr(md5(g::text), 1, 24),
       ((g * 104729) %% 250000 + 100) / 100.0,
       round(((g * 104729) %% 250000 + 100) * 0.029 / 100.0 + 0.30, 2),
       (ARRAY['EUR', 'USD', 'GBP', 'SEK'])[1 + (g * 31) %% 4],
       (ARRAY['succeeded', 'succeeded', 'succeeded', 'succeeded', 'refunded', 'failed', 'pending',
              'disputed'])[1 + (g * 17) %% 8],
       (ARRAY['card', 'card', 'sepa_debit', 'bank_transfer', 'wallet'])[1 + (g * 11) %% 5],
       (ARRAY['Order', 'Subscription renewal', 'Invoice', 'Top-up', 'Marketplace payout'])[1 + g %% 5]
         || ' #' || (100000 + (g * 37) %% 900000),
       timestamptz '2023-01-01 00:00:00+00' + g * interval '9 seconds',
       timestamptz '2023-01-01 00:00:00+00' + g * interval '9 seconds' + (g %% 600) * interval '1 second',
       jsonb_build_object(
         'card', jsonb_build_object('brand', (ARRAY['visa', 'mastercard', 'amex'])[1 + g %% 3],
                                    'last4', lpad(((g * 7349) %% 10000)::text, 4, '0'),
                                    'exp', (1 + g %% 12) || '/' || (25 + g %% 6)),
         'order_id', 'ord_' || substr(md5((g * 3)::text), 1, 16),
         'ip', '192.0.2.' || (g %% 256),
         'attempt', 1 + g %% 3,
         'three_ds', g %% 4 <> 0)
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g
"""

LEDGER = """
INSERT INTO ledger_entries
SELECT 2 * g - 1 + d,
       g,
       CASE WHEN d = 0 THEN 'customer:' || (1 + (g * 7919) %% %(users)s) ELSE
            (ARRAY['merchant:settlement', 'merchant:fees', 'merchant:reserve'])[1 + g %% 3] END,
       CASE WHEN d = 0 THEN 'debit' ELSE 'credit' END,
       ((g * 104729) %% 250000 + 100) / 100.0,
       (ARRAY['EUR', 'USD', 'GBP', 'SEK'])[1 + (g * 31) %% 4],
       timestamptz '2023-01-01 00:00:00+00' + g * interval '9 seconds' + d * interval '2 seconds',
       CASE WHEN g %% 7 = 0 THEN NULL ELSE 'batch ' || (g / 5000) END
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g CROSS JOIN (VALUES (0), (1)) AS s(d)
"""

INDEXES = [
    "ALTER TABLE users ADD PRIMARY KEY (id)",
    "CREATE UNIQUE INDEX users_email_key ON users (email)",
    "ALTER TABLE payments ADD PRIMARY KEY (id)",
    "CREATE UNIQUE INDEX payments_reference_key ON payments (reference)",
    "CREATE INDEX payments_user_id_created_at_idx ON payments (user_id, created_at)",
    "CREATE INDEX payments_status_idx ON payments (status) WHERE status <> 'succeeded'",
    "ALTER TABLE ledger_entries ADD PRIMARY KEY (id)",
    "CREATE INDEX ledger_entries_payment_id_idx ON ledger_entries (payment_id)",
    "CREATE INDEX ledger_entries_account_posted_at_idx ON ledger_entries (account, posted_at)",
    "ALTER TABLE payments ADD FOREIGN KEY (user_id) REFERENCES users (id)",
    "ALTER TABLE ledger_entries ADD FOREIGN KEY (payment_id) REFERENCES payments (id)",
]

BATCH = 500_000  # payments per INSERT (and twice as many ledger entries)
INDEX_SHARE = 0.32  # of the final size that the indexes take, to know when to stop loading rows
USERS_PER_GB = 150_000


def admin() -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(ADMIN_URL, autocommit=True)


def db_url(name: str = DB) -> str:
    return f"postgresql://{USER}@{HOST}:{PORT}/{name}"


def database_size(name: str = DB) -> int:
    with admin() as conn:
        row = conn.execute("SELECT pg_database_size(%s)", (name,)).fetchone()
        assert row is not None
        return int(row[0])


def marker(size_gb: float) -> str:
    return f"flightdeck backup benchmark, complete, size_gb={size_gb:g}"


def reusable(size_gb: float) -> bool:
    with admin() as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (DB,)
        ).fetchone()
    return row is not None and row[0] == marker(size_gb) and database_size() >= size_gb * 1024**3


def drop_database(name: str) -> None:
    with admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def generate(size_gb: float) -> None:
    target = int(size_gb * 1024**3)
    users = max(10_000, int(USERS_PER_GB * size_gb))
    drop_database(DB)
    with admin() as conn:
        conn.execute(f'CREATE DATABASE "{DB}"')
    start = time.perf_counter()
    with psycopg.connect(db_url(), autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("SELECT setseed(0.42)")
        conn.execute(SCHEMA)
        conn.execute(USERS.replace("%(users)s", str(users)))
        payments = 0
        indexed = False
        while True:
            lo, hi = payments + 1, payments + (BATCH if not indexed else BATCH // 4)
            params = {"users": users, "lo": lo, "hi": hi}
            conn.execute(PAYMENTS, params)
            conn.execute(LEDGER, params)
            payments = hi
            size = database_size()
            print(
                f"  {payments:,} payments, {2 * payments:,} ledger entries: {size / 1024**3:.2f} GiB",
                flush=True,
            )
            if not indexed and size >= target * (1 - INDEX_SHARE):
                print("  indexes and foreign keys ...", flush=True)
                for statement in INDEXES:
                    conn.execute(statement)
                indexed = True
                size = database_size()
                print(f"  with indexes: {size / 1024**3:.2f} GiB", flush=True)
            if indexed and size >= target:
                break
        conn.execute("VACUUM (FREEZE, ANALYZE)")
    with admin() as conn:
        conn.execute(f"COMMENT ON DATABASE \"{DB}\" IS '{marker(size_gb)}'")
    print(f"  generated in {time.perf_counter() - start:.0f} s", flush=True)


def describe_database() -> dict[str, Any]:
    with psycopg.connect(db_url()) as conn:
        tables = {}
        for (table,) in conn.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace "
            "ORDER BY 1"
        ).fetchall():
            row = conn.execute(
                "SELECT count(*), pg_table_size(%(t)s::regclass), pg_indexes_size(%(t)s::regclass) "
                f'FROM "{table}"',
                {"t": f'"{table}"'},
            ).fetchone()
            assert row is not None
            tables[table] = {"rows": int(row[0]), "table_bytes": int(row[1]), "index_bytes": int(row[2])}
    return {"name": DB, "size_bytes": database_size(), "tables": tables}


Work = Callable[[], tuple[int | None, dict[str, Any]]]


# -- measuring ----------------------------------------------------------------------------------------


def _cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return float(sum(fields) - idle), float(sum(fields))


def _load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


@dataclass
class Run:
    side: str
    seconds: float
    stored_bytes: int | None
    load_before: float
    machine_busy_cores: float  # everything on the machine during the run, this run included
    extra: dict[str, Any] = field(default_factory=dict)


def settle() -> None:
    """Not timed: flush dirty pages and checkpoint, so a run does not pay for the one before."""
    subprocess.run(["sync"], check=True)
    with admin() as conn:
        conn.execute("CHECKPOINT")


def measure(side: str, work: Work) -> Run:
    settle()
    load = _load()
    busy0, total0 = _cpu_times()
    start = time.perf_counter()
    stored, extra = work()
    seconds = time.perf_counter() - start
    busy1, total1 = _cpu_times()
    cores = os.cpu_count() or 1
    run = Run(side, seconds, stored, load, (busy1 - busy0) / max(total1 - total0, 1) * cores, extra)
    shown = f", {stored / 1024**2:,.1f} MiB" if stored is not None else ""
    print(
        f"  {side:40} {seconds:8.2f} s{shown}  "
        f"(load {load:.2f}, machine busy {run.machine_busy_cores:.2f} cores)",
        flush=True,
    )
    return run


def sh(argv: list[str], **kwargs: Any) -> None:
    subprocess.run(argv, check=True, **kwargs)


def pipeline(*commands: list[str], stdout: Any = None, stdin: Any = None) -> None:
    """``a < stdin | b | c > stdout``; raises when any stage fails."""
    procs: list[subprocess.Popen[bytes]] = []
    previous = stdin
    for i, argv in enumerate(commands):
        last = i == len(commands) - 1
        proc = subprocess.Popen(argv, stdin=previous, stdout=stdout if last else subprocess.PIPE)
        if previous is not None and previous is not stdin:
            previous.close()
        previous = proc.stdout
        procs.append(proc)
    codes = [p.wait() for p in procs]
    if any(codes):
        raise RuntimeError(f"pipeline {commands} failed: exit codes {codes}")


# -- the sides ----------------------------------------------------------------------------------------


def backup_config(storage: Path, fmt: str, jobs: int, encrypted: bool) -> BackupConfig:
    data: dict[str, Any] = {
        "service": "bench",
        "datasource": "bench-db",
        "postgres": {"format": fmt, "jobs": jobs},
        "compression_level": 3,
        "storage": {"kind": "local", "path": str(storage)},
    }
    if encrypted:
        data["encryption"] = {"key": BENCH_KEY}
    return BackupConfig.model_validate(data)


def flightdeck_backup(cfg: BackupConfig) -> Work:
    def work() -> tuple[int | None, dict[str, Any]]:
        result = run_backup("bench", cfg, DatasourceConfig.model_validate({"url": db_url()}))
        m = result.manifest
        return sum(a.size_bytes for a in m.artifacts), {
            "backup_id": m.backup_id,
            "raw_bytes": sum(a.raw_size_bytes for a in m.artifacts),
            "manifest_key": result.manifest_key,
        }

    return work


def raw_custom(out: Path) -> Work:
    def work() -> tuple[int | None, dict[str, Any]]:
        with open(out, "wb") as fh:
            pipeline(
                ["pg_dump", *PG, "-d", DB, "-Fc", "--compress=0"], ["zstd", "-3", "-T1", "-q"], stdout=fh
            )
        return out.stat().st_size, {}

    return work


def raw_directory(out: Path, jobs: int, scratch: Path) -> Work:
    def work() -> tuple[int | None, dict[str, Any]]:
        directory = scratch / "raw-dump"
        sh(["pg_dump", *PG, "-d", DB, "-Fd", f"-j{jobs}", "--compress=0", "-f", str(directory)])
        with open(out, "wb") as fh:
            pipeline(["tar", "-C", str(directory), "-cf", "-", "."], ["zstd", "-3", "-T1", "-q"], stdout=fh)
        shutil.rmtree(directory)
        return out.stat().st_size, {}

    return work


def create_database(name: str) -> None:
    with admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


def raw_restore(
    target: str, jobs: int, *, decoded: Path | None = None, archive: Path | None = None, scratch: Path
) -> Work:
    def work() -> tuple[int | None, dict[str, Any]]:
        create_database(target)
        directory = decoded
        if directory is None:
            assert archive is not None
            directory = scratch / "raw-restore"
            directory.mkdir()
            with open(archive, "rb") as fh:
                pipeline(["zstd", "-d", "-q", "-c"], ["tar", "-C", str(directory), "-xf", "-"], stdin=fh)
        sh(["pg_restore", *PG, "-d", target, f"-j{jobs}", "--no-owner", str(directory)])
        if decoded is None:
            shutil.rmtree(directory)
        return None, {}

    return work


def flightdeck_restore(cfg: BackupConfig, manifest_key: str, target: str, jobs: int) -> Work:
    storage = open_storage(cfg)

    def work() -> tuple[int | None, dict[str, Any]]:
        manifest = read_manifest(storage, manifest_key)
        result = restore_backup(storage, manifest, None, DatabaseUrl.parse(db_url(target)), jobs=jobs)
        if not result.ok:
            raise RuntimeError(f"flightdeck restore: {result.mismatches}")
        return None, {"bytes_restored": result.bytes_restored}

    return work


# -- the run ------------------------------------------------------------------------------------------


def summary(runs: list[Run], side: str) -> dict[str, Any]:
    mine = [r for r in runs if r.side == side]
    sizes = [r.stored_bytes for r in mine if r.stored_bytes is not None]
    return {
        "runs_seconds": [round(r.seconds, 2) for r in mine],
        "median_seconds": round(statistics.median(r.seconds for r in mine), 2),
        "stored_bytes": sizes[-1] if sizes else None,
    }


def ratio(results: dict[str, Any], ours: str, peer: str) -> float:
    return round(float(results[ours]["median_seconds"]) / float(results[peer]["median_seconds"]), 3)


@contextmanager
def workspace() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="flightdeck-backup-bench-", dir="/var/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-gb", type=float, default=2.0, help="pg_database_size to reach (GiB)")
    ap.add_argument("--jobs", type=int, default=2, help="pg_dump / pg_restore -j for the directory format")
    ap.add_argument("--rounds", type=int, default=2, help="runs of each side, alternated")
    ap.add_argument("--keep", action="store_true", help=f"keep {DB} for the next run")
    ap.add_argument("--generate-only", action="store_true", help="generate (or reuse) the database and exit")
    ap.add_argument("--skip", choices=["backup", "restore"], action="append", default=[])
    args = ap.parse_args()

    if reusable(args.size_gb):
        print(f"reusing {DB} ({database_size() / 1024**3:.2f} GiB)", flush=True)
    else:
        print(f"generating {DB} (>= {args.size_gb:g} GiB) ...", flush=True)
        generate(args.size_gb)
    if args.generate_only:
        return 0
    database = describe_database()  # also reads every table once: the page cache is warm for both sides
    print(
        f"database: {database['size_bytes'] / 1024**3:.2f} GiB, "
        + ", ".join(f"{t} {v['rows']:,} rows" for t, v in database["tables"].items()),
        flush=True,
    )
    runs: list[Run] = []
    targets: list[str] = []
    try:
        with workspace() as scratch:
            storage_root = scratch / "flightdeck"
            custom = backup_config(storage_root, "custom", 1, False)
            custom_enc = backup_config(storage_root, "custom", 1, True)
            directory = backup_config(storage_root, "directory", args.jobs, False)
            raw_dir_archive = scratch / "raw-directory.tar.zst"
            directory_manifest = ""
            if "backup" not in args.skip or "restore" not in args.skip:
                print("backup:", flush=True)
            for _ in range(args.rounds if "backup" not in args.skip else 0):
                runs.append(measure("raw pg_dump -Fc | zstd -3", raw_custom(scratch / "raw-custom.dump.zst")))
                runs.append(measure("flightdeck custom", flightdeck_backup(custom)))
                runs.append(measure("flightdeck custom, encrypted", flightdeck_backup(custom_enc)))
                runs.append(
                    measure(
                        f"raw pg_dump -Fd -j{args.jobs} + tar | zstd -3",
                        raw_directory(raw_dir_archive, args.jobs, scratch),
                    )
                )
                run = measure(f"flightdeck directory -j{args.jobs}", flightdeck_backup(directory))
                directory_manifest = str(run.extra["manifest_key"])
                runs.append(run)
                for item in storage_root.glob("bench/*"):  # keep only the last directory backup
                    if not directory_manifest.startswith(f"bench/{item.name}/"):
                        shutil.rmtree(item)
            if "restore" not in args.skip:
                if not directory_manifest:
                    directory_manifest = flightdeck_backup(directory)()[1]["manifest_key"]
                    raw_directory(raw_dir_archive, args.jobs, scratch)()
                decoded = scratch / "raw-decoded"
                decoded.mkdir()
                with open(raw_dir_archive, "rb") as fh:
                    pipeline(["zstd", "-d", "-q", "-c"], ["tar", "-C", str(decoded), "-xf", "-"], stdin=fh)
                print("restore:", flush=True)
                restores: list[tuple[str, Callable[[str], Work]]] = [
                    (
                        f"raw pg_restore -j{args.jobs} (decoded dir)",
                        lambda t: raw_restore(t, args.jobs, decoded=decoded, scratch=scratch),
                    ),
                    (
                        f"raw zstd -d | tar -x + pg_restore -j{args.jobs}",
                        lambda t: raw_restore(t, args.jobs, archive=raw_dir_archive, scratch=scratch),
                    ),
                    (
                        f"flightdeck restore -j{args.jobs}",
                        lambda t: flightdeck_restore(directory, directory_manifest, t, args.jobs),
                    ),
                ]
                for i in range(args.rounds):
                    for side, work in restores:
                        target = f"{DB}_restore_{i}"
                        targets.append(target)
                        runs.append(measure(side, work(target)))
                        drop_database(target)
    finally:
        for target in targets:
            drop_database(target)
        if not args.keep:
            drop_database(DB)
            print(f"dropped {DB}", flush=True)
    report(args, database, runs)
    return 0


def report(args: argparse.Namespace, database: dict[str, Any], runs: list[Run]) -> None:
    j = args.jobs
    sides = list(dict.fromkeys(r.side for r in runs))
    results = {side: summary(runs, side) for side in sides}
    comparisons = [
        ("backup, custom format", "flightdeck custom", "raw pg_dump -Fc | zstd -3"),
        ("backup, custom format, encrypted", "flightdeck custom, encrypted", "raw pg_dump -Fc | zstd -3"),
        (f"backup, directory -j{j}", f"flightdeck directory -j{j}", f"raw pg_dump -Fd -j{j} + tar | zstd -3"),
        (
            f"restore -j{j} vs pg_restore alone",
            f"flightdeck restore -j{j}",
            f"raw pg_restore -j{j} (decoded dir)",
        ),
        (
            f"restore -j{j} vs zstd -d + tar + pg_restore",
            f"flightdeck restore -j{j}",
            f"raw zstd -d | tar -x + pg_restore -j{j}",
        ),
    ]
    ratios = {}
    print()
    print(f"{'':48} {'runs (s)':>22} {'median':>8} {'stored MiB':>11}")
    for side in sides:
        r = results[side]
        stored = f"{r['stored_bytes'] / 1024**2:,.1f}" if r["stored_bytes"] else ""
        runs_s = " / ".join(f"{s:.1f}" for s in r["runs_seconds"])
        print(f"{side:48} {runs_s:>22} {r['median_seconds']:8.2f} {stored:>11}")
    print()
    for label, ours, peer in comparisons:
        if ours in results and peer in results:
            ratios[label] = ratio(results, ours, peer)
            verdict = "met" if ratios[label] <= GOAL_RATIO else "MISSED"
            print(f"{label:48} flightdeck / raw = {ratios[label]:.3f}  (goal <= {GOAL_RATIO:.2f}: {verdict})")
    loads = [r.load_before for r in runs]
    busy = [r.machine_busy_cores for r in runs]
    print(
        f"\ndatabase {database['size_bytes'] / 1024**3:.2f} GiB; machine: {os.cpu_count()} cores, "
        f"load average at run starts {min(loads):.2f}-{max(loads):.2f}, "
        f"machine busy during runs {min(busy):.2f}-{max(busy):.2f} cores"
    )
    print(f"command: {' '.join(['.venv/bin/python', 'bench/backup_2gb.py', *sys.argv[1:]])}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "command": " ".join(["bench/backup_2gb.py", *sys.argv[1:]]),
                "machine": {"cores": os.cpu_count(), "postgresql": server_version()},
                "database": database,
                "results": results,
                "ratios": ratios,
                "runs": [asdict(r) for r in runs],
            },
            indent=2,
        )
    )
    print(f"figures written to {RESULTS.relative_to(ROOT)}")


def server_version() -> str:
    with admin() as conn:
        row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"


if __name__ == "__main__":
    sys.exit(main())
