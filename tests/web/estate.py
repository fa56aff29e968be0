"""A small estate for the web tests: a configuration over a local target, and real evidence.

``seed`` runs the configured checks for real (HTTP, TCP, SQL and metrics checks against the local
target and a SQLite database) round after round, 50 minutes apart. Each round's clock is set back in time — the
checks measure for real, only their timestamps are spread over the past day — so that charts,
uptime and sparklines have a day of history to show. The target is unhealthy for a stretch of
rounds, so there are failures with their detail.
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flightdeck.clock import SystemClock
from flightdeck.config import load_config_text
from flightdeck.config.models import Config
from flightdeck.engine.oneshot import run_checks_now
from flightdeck.store import Store
from tests.web.target import Target

ESTATE_YAML = """
server:
  refresh_seconds: {refresh}
datasources:
  shop-db:
    url: sqlite:///{db}
services:
  shop:
    description: The sample shop
    owner: team-shop
    checks:
      - name: health
        kind: http
        description: liveness of the shop
        url: {base}/health
        expect:
          status: 200
      - name: port
        kind: tcp
        host: 127.0.0.1
        port: {port}
        labels: {{tier: edge}}
      - name: orders-1h
        kind: sql
        datasource: shop-db
        measurement: orders_1h
        unit: orders
        query: SELECT COUNT(*) FROM orders
      - name: traffic
        kind: metrics
        url: {base}/metrics
        presets: [http, process]
        labels:
          panel.cpu_pct: Shop CPU
  billing:
    description: Payment gateway
    checks:
      - name: gateway
        kind: tcp
        host: 127.0.0.1
        port: {closed}
"""


@contextmanager
def closed_port() -> Iterator[int]:
    """A port nothing listens on (bound, not listening) for as long as the context lasts."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def shop_database(path: Path, orders: int = 3) -> Path:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, total_cents INTEGER)")
        db.executemany("INSERT INTO orders (total_cents) VALUES (?)", [(100 * i,) for i in range(orders)])
    return path


def estate_config(tmp: Path, target: Target, closed: int, refresh: int = 15) -> Config:
    db = shop_database(tmp / "shop.db")
    text = ESTATE_YAML.format(base=target.base, port=target.port, closed=closed, db=db, refresh=refresh)
    return load_config_text(text, str(tmp / "flightdeck.yaml"), env={})


class ShiftedClock(SystemClock):
    """The system clock, set back by ``offset``: real durations, timestamps in the past."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) - self.offset


def seed(
    url: str, config: Config, target: Target, rounds: int = 24, spacing: timedelta = timedelta(minutes=50)
) -> None:
    """Run every check ``rounds`` times, the first ``rounds × spacing`` ago, the last now. The
    target's /health fails in rounds 8–10 (counted from the oldest)."""
    for i in range(rounds):
        target.state.healthy = not 8 <= i <= 10
        shifted = Store(url, clock=ShiftedClock(spacing * (rounds - 1 - i)))
        try:
            asyncio.run(run_checks_now(config, shifted))
        finally:
            shifted.dispose()
    target.state.healthy = True
