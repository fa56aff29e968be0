"""Generate a store the size of a large installation: N checks with 30 days of evidence.

What it writes (defaults: 10,000 checks, one run a minute each):

- ``check_state``: one row per check (100 checks per service), latest outcome filled in;
- day rollups for the last 30 days and hour rollups for the last 30 days;
- minute rollups for the last 26 hours (all the cockpit's 24-hour window reads; the default
  retention keeps 3 days, i.e. about 3× as many rows in a real store);
- raw evidence for the last ``--raw-hours`` (default 2), one record per check per minute;
- watermarks as a running installation has them; then it runs the real :func:`roll_up` over the
  raw window and times it (how fast rollups keep up).

Rollup rows are synthetic but shaped like real ones: counts per verdict with a few failing checks,
latency sketches drawn from log-normal latencies (a few dozen buckets per hour, ~100 per day), two
measurements each. Raw rows are real ``NewEvidence``-shaped records.

    .venv/bin/python bench/gen_cockpit_data.py --url sqlite:///bench-data/cockpit.db
    .venv/bin/python bench/gen_cockpit_data.py --url postgresql://postgres@127.0.0.1:5432/fd_bench
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import make_url

from flightdeck.store import CheckRow, Store, sync_checks
from flightdeck.store.aggregate import Resolution
from flightdeck.store.rollup import roll_up
from flightdeck.store.sketch import LatencySketch
from flightdeck.store.tables import check_state, evidence, rollup_watermarks

CLASSES = 40  # latency classes (median from 3 ms to 900 ms); checks are spread over them
VARIANTS = 6  # distinct rollup shapes per class and resolution
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores datetimes in SQLite


def subjects(n: int) -> list[str]:
    return [f"svc{i // 100:03d}/check-{i % 100:02d}" for i in range(n)]


def class_of(i: int) -> int:
    return (i * 7919) % CLASSES


def median_ms(c: int) -> float:
    return float(3.0 * (300 ** (c / (CLASSES - 1))))


class Templates:
    """Pre-serialized rollup shapes per (latency class, resolution): counts, sketch, measurements."""

    def __init__(self, rng: random.Random) -> None:
        self.rows: dict[tuple[int, Resolution], list[dict[str, Any]]] = {}
        for c in range(CLASSES):
            for res, n in ((Resolution.MINUTE, 1), (Resolution.HOUR, 60), (Resolution.DAY, 1440)):
                self.rows[(c, res)] = [self._shape(rng, median_ms(c), n) for _ in range(VARIANTS)]

    @staticmethod
    def _shape(rng: random.Random, median: float, n: int) -> dict[str, Any]:
        values = [rng.lognormvariate(0, 0.25) * median for _ in range(n)]
        sketch = LatencySketch()
        sketch.extend(values)
        fails = sum(1 for _ in range(n) if rng.random() < 0.004)
        connect = [v * 0.3 for v in values]
        return {
            "count": n,
            "pass_count": n - fails,
            "warn_count": 0,
            "fail_count": fails,
            "error_count": 0,
            "unknown_count": 0,
            "duration_sum": sum(values),
            "duration_min": min(values),
            "duration_max": max(values),
            "latency_sketch": json.dumps(sketch.to_json()),
            "measurements": json.dumps(
                {
                    "connect_ms": {"count": n, "sum": sum(connect), "min": min(connect), "max": max(connect),
                                   "last": connect[-1]},
                    "status_code": {"count": n, "sum": 200.0 * n, "min": 200.0, "max": 200.0, "last": 200.0},
                }
            ),
        }  # fmt: skip


COLUMNS = [
    "resolution", "subject", "bucket_start", "count", "pass_count", "warn_count", "fail_count", "error_count",
    "unknown_count", "duration_sum", "duration_min", "duration_max", "latency_sketch", "measurements",
]  # fmt: skip
EVIDENCE_COLUMNS = [
    "subject", "service", "check_name", "kind", "producer", "trigger", "config_digest", "started_at",
    "finished_at", "verdict", "duration_ms", "summary", "measurements", "detail", "artifacts",
]  # fmt: skip


def rollup_rows(
    names: list[str],
    res: Resolution,
    start: datetime,
    end: datetime,
    templates: Templates,
    rng: random.Random,
) -> Iterator[tuple[Any, ...]]:
    step = timedelta(seconds=res.seconds)
    for i, subject in enumerate(names):
        shapes = templates.rows[(class_of(i), res)]
        t = start
        while t < end:
            s = shapes[rng.randrange(VARIANTS)]
            yield (res.value, subject, t, *(s[c] for c in COLUMNS[3:]))
            t += step


def evidence_rows(
    names: list[str], start: datetime, end: datetime, rng: random.Random
) -> Iterator[tuple[Any, ...]]:
    t = start
    while t < end:
        for i, subject in enumerate(names):
            finished = t + timedelta(seconds=(i % 60) + rng.random() * 0.5)
            if finished >= end:
                continue
            d = rng.lognormvariate(0, 0.25) * median_ms(class_of(i))
            verdict = "fail" if rng.random() < 0.004 else "pass"
            service, _, check = subject.partition("/")
            meas = json.dumps([{"name": "connect_ms", "value": round(d * 0.3, 3), "unit": "ms"},
                               {"name": "status_code", "value": 200.0, "unit": ""}])  # fmt: skip
            started = finished - timedelta(milliseconds=d)
            yield (subject, service, check, "http", "check", "schedule", "0" * 64,
                   started, finished, verdict, d, "", meas, "{}", "[]")  # fmt: skip
        t += timedelta(minutes=1)


SECONDARY = {  # indexes dropped while loading and rebuilt after (sorting once beats random inserts)
    "rollups": ["ix_rollups_bucket ON rollups (resolution, bucket_start)"],
    "evidence": [
        "ix_evidence_subject_finished ON evidence (subject, finished_at)",
        "ix_evidence_finished ON evidence (finished_at)",
        "ix_evidence_service_finished ON evidence (service, finished_at)",
    ],
}


def load(
    store: Store, table: str, columns: list[str], rows: Iterator[tuple[Any, ...]], chunk: int = 20000
) -> int:
    """Bulk-load through the driver: COPY on PostgreSQL, executemany on SQLite; secondary indexes
    are dropped for the load and rebuilt after, commits every million rows."""
    n = 0
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        for ix in SECONDARY[table]:
            cur.execute(f"DROP INDEX IF EXISTS {ix.split()[0]}")
        raw.commit()
        if store.dialect == "postgresql":
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(row)
                    n += 1
        else:
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            batch: list[tuple[Any, ...]] = []
            texts: dict[datetime, str] = {}

            def as_text(v: datetime) -> str:
                t = texts.get(v)
                if t is None:
                    t = texts[v] = v.astimezone(UTC).strftime(SQLITE_TIME)
                return t

            for row in rows:
                batch.append(tuple(as_text(v) if isinstance(v, datetime) else v for v in row))
                if len(batch) >= chunk:
                    cur.executemany(sql, batch)
                    n += len(batch)
                    batch = []
                    if n % 1_000_000 == 0:
                        raw.commit()
            if batch:
                cur.executemany(sql, batch)
                n += len(batch)
        raw.commit()
        for ix in SECONDARY[table]:
            cur.execute(f"CREATE INDEX {ix}")
        raw.commit()
    finally:
        raw.close()
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="an empty store (SQLite path or PostgreSQL database)")
    ap.add_argument("--checks", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--minute-hours", type=int, default=26)
    ap.add_argument("--raw-hours", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    store = Store(args.url)
    if store.dialect == "sqlite":
        db = make_url(store.url).database
        if db and Path(db).exists():
            print(f"refusing to write into an existing file: {db}", file=sys.stderr)
            return 2
    store.migrate()
    with store.engine.connect() as conn:
        if conn.execute(select(func.count()).select_from(evidence)).scalar_one():
            print("refusing to write into a store that has evidence", file=sys.stderr)
            return 2
    rng = random.Random(args.seed)
    now = datetime.now(UTC)
    raw_start = Resolution.HOUR.floor(now - timedelta(hours=args.raw_hours))
    day_end = Resolution.DAY.floor(raw_start)
    first_day = Resolution.DAY.floor(now - timedelta(days=args.days))
    minute_start = Resolution.HOUR.floor(now - timedelta(hours=args.minute_hours))
    names = subjects(args.checks)
    timings: dict[str, float] = {}
    counts: dict[str, int] = {}

    t0 = time.monotonic()
    with store.engine.begin() as conn:
        sync_checks(conn, [CheckRow(s, *s.split("/"), "http", "0" * 64, True) for s in names], now)
    templates = Templates(rng)
    timings["check_state + templates"] = time.monotonic() - t0

    for res, start, end in (
        (Resolution.DAY, first_day, day_end),
        (Resolution.HOUR, first_day, raw_start),
        (Resolution.MINUTE, minute_start, raw_start),
    ):
        t0 = time.monotonic()
        counts[f"rollups/{res}"] = load(
            store, "rollups", COLUMNS, rollup_rows(names, res, start, end, templates, rng)
        )
        timings[f"rollups/{res}"] = time.monotonic() - t0
        print(f"  {res}: {counts[f'rollups/{res}']:,} rows in {timings[f'rollups/{res}']:.0f}s", flush=True)
    with store.engine.begin() as conn:
        conn.execute(
            insert(rollup_watermarks),
            [
                {"resolution": "minute", "rolled_until": raw_start},
                {"resolution": "hour", "rolled_until": raw_start},
                {"resolution": "day", "rolled_until": day_end},
            ],
        )
    t0 = time.monotonic()
    counts["evidence"] = load(store, "evidence", EVIDENCE_COLUMNS, evidence_rows(names, raw_start, now, rng))
    timings["evidence"] = time.monotonic() - t0
    print(f"  raw evidence: {counts['evidence']:,} rows in {timings['evidence']:.0f}s", flush=True)

    t0 = time.monotonic()
    with store.engine.begin() as conn:
        latest = (
            select(evidence.c.subject, func.max(evidence.c.id).label("id"))
            .group_by(evidence.c.subject)
            .subquery()
        )
        rows = conn.execute(
            select(evidence.c.id, evidence.c.subject, evidence.c.verdict, evidence.c.started_at,
                   evidence.c.finished_at, evidence.c.duration_ms).join(latest, latest.c.id == evidence.c.id)
        ).all()  # fmt: skip
        conn.execute(
            update(check_state)
            .where(check_state.c.subject == bindparam("b_subject"))
            .values(
                last_evidence_id=bindparam("b_id"),
                last_verdict=bindparam("b_verdict"),
                last_started_at=bindparam("b_started"),
                last_finished_at=bindparam("b_finished"),
                last_duration_ms=bindparam("b_duration"),
                last_change_at=bindparam("b_finished2"),
            ),
            [
                {"b_subject": r.subject, "b_id": r.id, "b_verdict": r.verdict, "b_started": r.started_at,
                 "b_finished": r.finished_at, "b_duration": r.duration_ms, "b_finished2": r.finished_at}
                for r in rows
            ],
        )  # fmt: skip
    timings["check_state latest"] = time.monotonic() - t0
    if store.dialect == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")

    t0 = time.monotonic()
    report = roll_up(store, datetime.now(UTC))
    timings["roll_up of the raw window"] = time.monotonic() - t0
    print(f"  {report}", flush=True)
    minutes = report[Resolution.MINUTE]
    per_minute = timings["roll_up of the raw window"] / max(1.0, minutes.rows_read / args.checks)

    print(f"\ngenerated {args.checks:,} checks, {args.days} days, now={now.isoformat(timespec='seconds')}")
    for k, v in counts.items():
        print(f"  {k:<20} {v:>12,} rows")
    for k, v in timings.items():
        print(f"  {k:<28} {v:8.1f} s")
    print(
        f"  roll_up: {minutes.rows_read:,} raw records → {minutes.rows_written:,} minute rows, "
        f"{report[Resolution.HOUR].rows_written:,} hour rows; "
        f"{per_minute:.2f} s of work per minute of evidence ({args.checks:,} records)"
    )
    if store.dialect == "sqlite":
        db = make_url(store.url).database
        if db:
            print(f"  file size: {Path(db).stat().st_size / 2**30:.2f} GiB")
    else:
        with store.engine.connect() as conn:
            size = conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one()
        print(f"  database size: {size / 2**30:.2f} GiB")
    print(f"command: {' '.join([sys.executable.split('/')[-1], *sys.argv])}")
    store.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
