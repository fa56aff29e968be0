"""``flightdeck demo`` as a user runs it: a real subprocess, its cockpit, its service, Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from flightdeck.demo.estate import Estate
from flightdeck.demo.process import pid_alive, read_pid
from flightdeck.store import EvidenceFilter, Store, list_evidence

FLIGHTDECK = [sys.executable, "-m", "flightdeck"]
INTERVAL = 2.0


async def _cli(*args: str) -> int:
    proc = await asyncio.create_subprocess_exec(
        *FLIGHTDECK, *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    return await asyncio.wait_for(proc.wait(), 60)


async def _login(session: aiohttp.ClientSession, base: str, username: str, password: str) -> None:
    async with session.get(f"{base}/login") as resp:
        page = await resp.text()
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no login form"
    form = {"username": username, "password": password, "csrf": found.group(1), "next": "/"}
    async with session.post(f"{base}/login", data=form, allow_redirects=False) as resp:
        assert resp.status == 303, await resp.text()


async def _checks(session: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    async with session.get(f"{base}/api/v1/checks", params={"service": "payments", "stats": "false"}) as resp:
        assert resp.status == 200
        data = await resp.json()
    return {c["check"]: c for c in data["items"]}


async def _until(
    session: aiohttp.ClientSession,
    base: str,
    names: list[str],
    verdicts: set[str],
    after: datetime,
    what: str,
) -> None:
    deadline = time.monotonic() + 45
    while True:
        checks = await _checks(session, base)
        ok = all(
            checks[n]["verdict"] in verdicts
            and checks[n]["last_run_at"] is not None
            and datetime.fromisoformat(checks[n]["last_run_at"]) > after
            for n in names
        )
        if ok:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{what}: {[(n, checks[n]['verdict'], checks[n]['last_summary']) for n in names]}"
            )
        await asyncio.sleep(0.25)


@pytest.mark.slow
async def test_flightdeck_demo_end_to_end(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    log = (tmp_path / "demo.stderr").open("wb")
    env = {k: v for k, v in os.environ.items() if k != "FLIGHTDECK_DATABASE_URL"}
    proc = await asyncio.create_subprocess_exec(
        *FLIGHTDECK, "demo", "--json", "--dir", str(folder),
        "--port", "0", "--service-port", "0", "--service-https-port", "0",
        "--chaos-every", "0", "--no-databases", "--interval", f"{INTERVAL:g}s",
        stdout=asyncio.subprocess.PIPE, stderr=log, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    estate = Estate(folder)
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 90)
        ready = json.loads(line)
        ready_at = time.monotonic()
        assert ready["event"] == "ready", line
        base = ready["cockpit_url"]
        assert base.startswith("http://127.0.0.1:")
        assert ready["username"] == "admin"
        assert ready["password"] == estate.password_file.read_text().strip()
        assert ready["checks"] >= 10

        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as session:
            async with session.get(f"{base}/health") as resp:
                assert resp.status == 200
            async with session.get(f"{base}/api/v1/checks") as resp:
                assert resp.status == 401  # nothing without logging in
            await _login(session, base, ready["username"], ready["password"])
            async with session.get(f"{base}/") as resp:
                assert resp.status == 200
                assert "payments" in await resp.text()

            probes = ["health", "ready", "https-port"]
            green = {"pass", "warn"}  # warn: slower than 300 ms, on a loaded machine
            await _until(session, base, probes, green, datetime.min.replace(tzinfo=UTC), "probes pass")

            assert await _cli("demo", "service", "stop", "--dir", str(folder)) == 0
            stopped = datetime.now(UTC)
            await _until(
                session, base, probes, {"fail", "error"}, stopped, "probes red after the service stopped"
            )
            down = await _checks(session, base)
            assert "refused" in down["health"]["last_summary"]

            assert await _cli("demo", "service", "start", "--dir", str(folder)) == 0
            await _until(session, base, probes, green, datetime.now(UTC), "probes green after it started")

            # Every check has a live status within a minute of the start.
            while True:
                never = [n for n, c in (await _checks(session, base)).items() if c["last_run_at"] is None]
                if not never:
                    break
                assert time.monotonic() - ready_at < 60, f"no status within a minute: {never}"
                await asyncio.sleep(0.5)

        store = Store(estate.store_url)
        try:
            with store.engine.connect() as conn:
                kinds = {
                    kind
                    for kind in ("http", "tcp", "sql", "metrics", "tls", "headers", "ratelimit")
                    if list_evidence(conn, EvidenceFilter(service="payments", kind=kind), limit=1).items
                }
        finally:
            store.dispose()
        assert kinds == {"http", "tcp", "sql", "metrics", "tls", "headers", "ratelimit"}
        service_pid = read_pid(estate.pid_file)
        assert service_pid is not None
        assert pid_alive(service_pid)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        rest = await asyncio.wait_for(proc.stdout.read(), 60)
        code = await asyncio.wait_for(proc.wait(), 60)
        log.close()
    assert code == 0, (tmp_path / "demo.stderr").read_text()[-2000:]
    assert json.loads(rest.decode().strip().splitlines()[-1]) == {"event": "stopped"}
    # Nothing left behind: the service stopped with the demo.
    assert not pid_alive(service_pid)
    assert not estate.pid_file.exists()
