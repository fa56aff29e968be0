"""Cockpit overview latency on a large store (see bench/gen_cockpit_data.py to make one).

Measures, warm, over many iterations with random pages and checks:

- ``overview``: what the overview page reads for one page of checks — their states
  (:func:`list_statuses`) and figures (:func:`check_summaries`: uptime 24 h / 7 d / 30 d, latency
  p50/p95/p99, runs and failures over 24 h);
- ``check_summaries`` alone, for pages of 50 and 100 checks;
- ``series`` of one check over 24 h, 7 d and 30 d (the latency chart);
- with ``--http`` and when the web app is installed: the overview page over real HTTP, through
  ``create_app`` served by uvicorn on 127.0.0.1 (an ephemeral port), logged in.

    .venv/bin/python bench/cockpit_overview.py --url sqlite:////var/tmp/flightdeck-bench/cockpit.db
"""

from __future__ import annotations

import argparse
import random
import re
import secrets
import socket
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.cookiejar import CookieJar

from sqlalchemy import func, select

from flightdeck.store import Store, list_statuses
from flightdeck.store.rollup import roll_up
from flightdeck.store.stats import check_summaries, series
from flightdeck.store.tables import check_state, evidence, rollups


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def measure(name: str, fn: Callable[[int], object], iterations: int, warmup: int = 3) -> dict[str, float]:
    for i in range(warmup):
        fn(i)
    samples: list[float] = []
    for i in range(iterations):
        t0 = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - t0) * 1000)
    result = {
        "p50": quantile(samples, 0.5),
        "p95": quantile(samples, 0.95),
        "p99": quantile(samples, 0.99),
        "max": max(samples),
        "mean": statistics.fmean(samples),
    }
    print(
        f"  {name:<34} p50 {result['p50']:7.1f} ms   p95 {result['p95']:7.1f} ms   "
        f"p99 {result['p99']:7.1f} ms   max {result['max']:7.1f} ms   (n={iterations})",
        flush=True,
    )
    return result


class Browser:
    """A logged-in cockpit user over real HTTP: cookies kept, redirects followed."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def get(self, path: str) -> bytes:
        with self.opener.open(self.base + path, timeout=60) as response:
            body: bytes = response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {path}: HTTP {response.status}")
            return body

    def login(self, username: str, password: str) -> None:
        page = self.get("/login").decode()
        found = re.search(r'name="csrf" value="([^"]+)"', page)
        if found is None:
            raise RuntimeError("no CSRF field on the login page")
        form = urllib.parse.urlencode(
            {"username": username, "password": password, "csrf": found.group(1), "next": "/"}
        ).encode()
        request = urllib.request.Request(self.base + "/login", data=form, method="POST")  # noqa: S310
        with self.opener.open(request, timeout=60) as response:  # follows the redirect to /
            if "/login" in response.url:
                raise RuntimeError("login failed")


def measure_http(
    store: Store, iterations: int, rng: random.Random, services: list[str]
) -> dict[str, dict[str, float]]:
    """Serve the real app with uvicorn on 127.0.0.1 (ephemeral port), log in, time page loads."""
    try:
        import uvicorn

        from flightdeck.access import Role, create_user
        from flightdeck.config import load_config_text
        from flightdeck.web.app import create_app
    except ImportError as exc:
        print(f"  HTTP: not measured ({exc})")
        return {}
    username, password = f"bench-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(18)
    create_user(store, username, password, Role.VIEWER)
    # The app lists the configured checks; declare the generated ones (as tcp checks: the kind
    # does not matter to the overview, and no check runs here).
    lines = ["services:"]
    current = None
    with store.engine.connect() as conn:
        for subject in conn.execute(select(check_state.c.subject).order_by(check_state.c.subject)).scalars():
            service, _, check = subject.partition("/")
            if service != current:
                lines += [f"  {service}:", "    checks:"]
                current = service
            lines.append(f"      - {{name: {check}, kind: tcp, host: 127.0.0.1, port: 9}}")
    config = load_config_text("\n".join(lines) + "\n", file="<bench>")
    app = create_app(config, store)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    results: dict[str, dict[str, float]] = {}
    try:
        browser = Browser(f"http://127.0.0.1:{port}")
        browser.login(username, password)
        size = len(browser.get("/"))
        print(f"HTTP (uvicorn on 127.0.0.1:{port}, logged in; overview page {size / 1024:.0f} KiB):")
        results["HTTP overview /"] = measure(
            "GET / (first 100 checks)", lambda _: browser.get("/"), iterations
        )
        results["HTTP overview ?page=N"] = measure(
            "GET /?page=N (random page)", lambda _: browser.get(f"/?page={rng.randint(1, 100)}"), iterations
        )
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--http", action="store_true", help="also measure the page over HTTP (needs the web app)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    store = Store(args.url)

    t0 = time.perf_counter()
    caught_up = roll_up(store, datetime.now(UTC))  # as the maintenance pass would have
    print(f"catch-up before measuring: {caught_up} ({time.perf_counter() - t0:.1f}s)")
    with store.engine.connect() as conn:
        services = sorted(conn.execute(select(check_state.c.service).distinct()).scalars())
        subjects = sorted(conn.execute(select(check_state.c.subject)).scalars())
        n_raw = conn.execute(select(func.count()).select_from(evidence)).scalar_one()
        per_res = dict(
            conn.execute(select(rollups.c.resolution, func.count()).group_by(rollups.c.resolution)).all()
        )
    print(
        f"store: {store.display_url} ({store.dialect}); {len(subjects):,} checks in {len(services)} "
        f"services; {n_raw:,} raw records; "
        f"rollups {', '.join(f'{k} {v:,}' for k, v in sorted(per_res.items()))}"
    )
    results: dict[str, dict[str, float]] = {}

    def overview(_: int) -> None:
        service = rng.choice(services)
        with store.engine.connect() as conn:
            page = list_statuses(conn, service=service)
            check_summaries(conn, [s.subject for s in page], datetime.now(UTC))

    def summaries(size: int) -> Callable[[int], object]:
        def run(_: int) -> object:
            start = rng.randrange(0, max(1, len(subjects) - size))
            with store.engine.connect() as conn:
                return check_summaries(conn, subjects[start : start + size], datetime.now(UTC))

        return run

    def chart(span: timedelta) -> Callable[[int], object]:
        def run(_: int) -> object:
            now = datetime.now(UTC)
            with store.engine.connect() as conn:
                return series(conn, rng.choice(subjects), now - span, now)

        return run

    print("warm figures:")
    results["overview page (100 checks)"] = measure("overview page (100 checks)", overview, args.iterations)
    results["check_summaries, 50 checks"] = measure(
        "check_summaries, 50 checks", summaries(50), args.iterations
    )
    results["check_summaries, 100 checks"] = measure(
        "check_summaries, 100 checks", summaries(100), args.iterations
    )
    for label, span in (("24h", timedelta(hours=24)), ("7d", timedelta(days=7)), ("30d", timedelta(days=30))):
        results[f"series {label}"] = measure(f"series {label}", chart(span), args.iterations)

    if args.http:
        results.update(measure_http(store, args.iterations, rng, services))
    print(f"command: {' '.join(['.venv/bin/python', *sys.argv])}")
    store.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
