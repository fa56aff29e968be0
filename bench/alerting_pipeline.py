"""Alerting pipeline: failing evidence → rule → alert → incident → outbox → webhook request.

Writes failing evidence records for distinct checks at a steady rate (default 1,000 per minute), with
the alerting engine running as ``flightdeck serve`` runs it (one :class:`AlertingService`, system
clock, 200 ms idle poll), and a local HTTP receiver that records when each notification arrives. Every
record starts its own incident (``group_by: [service, check]``, ``group_wait: 0s``), so each one must
produce exactly one notification.

Reports the latency from the evidence record being committed to the notification request arriving at
the receiver (p50/p95/p99/max), the sustained rate, and what was lost or duplicated.

    .venv/bin/python bench/alerting_pipeline.py                       # SQLite store, 1,000/min for 60 s
    .venv/bin/python bench/alerting_pipeline.py --store postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/alerting_pipeline.py --rate 3000 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from sqlalchemy import create_engine, text

from flightdeck.alerting.service import AlertingService
from flightdeck.config import load_config_text
from flightdeck.evidence import NewEvidence, Verdict
from flightdeck.store import Store, insert_evidence

CONFIG = """
version: 1
store: {{state_dir: {state}}}
services:
  bench:
    checks:
{checks}
alerting:
  starter_rules: false
  grouping: {{group_by: [service, check], group_wait: 0s, group_interval: 5m, repeat_interval: 24h}}
  routes: [{{policy: hook}}]
  rules:
    down: {{type: check_failing, service: bench, consecutive: 1, severity: P1}}
channels:
  hook: {{type: webhook, url: "{url}", timeout: 5s}}
oncall:
  escalation_policies:
    hook: {{levels: [{{targets: [{{channel: hook}}], timeout: 1h}}]}}
"""


class Receiver:
    def __init__(self, expected: int) -> None:
        self.arrivals: dict[str, list[float]] = {}  # check → arrival times (time.time())
        self.expected = expected
        self.all_arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        labels = body["alerts"][0]["labels"] if body.get("alerts") else {}
        self.arrivals.setdefault(labels.get("check", "?"), []).append(time.time())
        if len(self.arrivals) >= self.expected:
            self.all_arrived.set()
        return web.Response(status=200)


async def run(rate: float, seconds: float, store_url: str | None) -> None:
    total = int(rate * seconds / 60)
    receiver = Receiver(total)
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    with tempfile.TemporaryDirectory() as tmp:
        checks = "\n".join(
            f"      - {{name: c{i}, kind: tcp, host: 127.0.0.1, port: 9}}" for i in range(total)
        )
        config = load_config_text(
            CONFIG.format(state=tmp, checks=checks, url=f"http://127.0.0.1:{port}/hook"), base_dir=Path(tmp)
        )
        db = None
        if store_url:
            db = f"fd_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(
                store_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
            )
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{db}"'))
            url = store_url.rsplit("/", 1)[0] + f"/{db}"
        else:
            url = f"sqlite:///{tmp}/flightdeck.db"
        store = Store(url)
        store.migrate()
        service = AlertingService(config, store, node_id="bench")
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop))
        await asyncio.sleep(1.0)  # first pass: the engine takes the lease and sets its watermark
        committed: dict[str, float] = {}
        started = time.monotonic()
        for i in range(total):
            due = started + i * 60.0 / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            now = datetime.now(UTC)
            record = NewEvidence(
                subject=f"bench/c{i}",
                service="bench",
                check=f"c{i}",
                kind="tcp",
                config_digest="bench",
                started_at=now,
                finished_at=now,
                verdict=Verdict.FAIL,
                duration_ms=1.0,
                summary="connection refused",
            )
            await asyncio.to_thread(_insert, store, record)
            committed[f"c{i}"] = time.time()
        feed_seconds = time.monotonic() - started
        deadline = time.monotonic() + 60
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(receiver.all_arrived.wait(), max(1.0, deadline - time.monotonic()))
        await asyncio.sleep(2.0)  # anything sent twice would arrive now
        stop.set()
        await task
        await runner.cleanup()
        store.dispose()
        if db:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
            admin.dispose()
    latencies = sorted(
        (receiver.arrivals[c][0] - t) * 1000 for c, t in committed.items() if c in receiver.arrivals
    )
    lost = total - len(latencies)
    duplicated = sum(len(v) - 1 for v in receiver.arrivals.values() if len(v) > 1)
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [float("nan")] * 99
    print(
        f"store: {'PostgreSQL' if store_url else 'SQLite'}; "
        f"{total} failing records over {feed_seconds:.1f} s "
        f"({total / feed_seconds * 60:.0f} per minute)"
    )
    print(f"notifications: {len(latencies)} arrived, {lost} lost, {duplicated} duplicated")
    print(
        f"evidence committed → notification received: p50 {q[49]:.0f} ms, p95 {q[94]:.0f} ms, "
        f"p99 {q[98]:.0f} ms, max {latencies[-1] if latencies else float('nan'):.0f} ms"
    )


def _insert(store: Store, record: NewEvidence) -> None:
    with store.engine.begin() as conn:
        insert_evidence(conn, [record])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="failing records per minute")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--store", default=None, help="PostgreSQL admin URL (default: SQLite)")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args.rate, args.seconds, args.store))


if __name__ == "__main__":
    main()
