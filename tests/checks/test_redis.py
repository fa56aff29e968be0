"""The ``redis`` check against real Redis servers: the shared one, and private ones on ephemeral ports
(with a password and a memory limit) started for these tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from flightdeck.checks.base import CheckContext
from flightdeck.config import load_config_text
from flightdeck.engine.runner import prepare_checks, run_check
from flightdeck.evidence import NewEvidence, Verdict
from tests.conftest import REQUIRE_SERVICES

pytestmark = pytest.mark.services


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepared(url: str, extra: str = ""):  # type: ignore[no-untyped-def]
    text = f"services:\n  cache:\n    checks:\n      - {{name: r, kind: redis, url: '{url}'{', ' + extra if extra else ''}}}\n"
    config = load_config_text(text, "t.yaml", env={})
    (p,) = prepare_checks(config, CheckContext(config=config))
    return p


async def run_one(url: str, extra: str = "") -> NewEvidence:
    return (await run_check(prepared(url, extra))).evidence


def values(ev: NewEvidence) -> dict[str, float]:
    return {m.name: m.value for m in ev.measurements}


class PrivateRedis:
    def __init__(self, *args: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            message = "redis-server is not installed; cannot start a private Redis"
            if REQUIRE_SERVICES:
                pytest.fail(message)
            pytest.skip(message)
        self.dir = Path(tempfile.mkdtemp(prefix="fd-redis-"))
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
                *args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.025)
        self.stop()
        pytest.fail(f"private redis-server on port {self.port} did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def limited_redis() -> Iterator[tuple[int, str]]:
    """4 MB maxmemory, evicting random keys, with a password."""
    password = f"pw-{uuid.uuid4().hex}"
    server = PrivateRedis(
        "--maxmemory", "4mb", "--maxmemory-policy", "allkeys-random", "--requirepass", password
    )
    yield server.port, password
    server.stop()


def evicted(client: redis.Redis) -> int:
    return int(client.info("stats")["evicted_keys"])


async def test_memory_against_maxmemory_and_evictions(limited_redis: tuple[int, str]) -> None:
    port, password = limited_redis
    client = redis.Redis(port=port, password=password)
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    check = prepared(url, "conditions: [{warn: 'evicted_keys_delta == 0'}]")
    try:
        for i in range(1500):  # 1500 × 8 KB = 12 MB into 4 MB: keys are evicted
            client.set(f"k{i}", b"x" * 8192)
        first = await run_check(check)
        before = evicted(client)
        for i in range(1500, 2000):
            client.set(f"k{i}", b"x" * 8192)
        after = evicted(client)
        second = await run_check(check, memo=first.memo)
        info = client.info("memory")
    finally:
        client.close()
    got = values(first.evidence)
    assert got["memory_max_bytes"] == 4 * 1024 * 1024
    assert got["memory_used_pct"] == round(100 * got["memory_used_bytes"] / got["memory_max_bytes"], 2)
    assert 0 < got["evicted_keys"] <= before
    # First run: nothing to compare with, so the delta is not measured and the condition is unknown.
    assert "evicted_keys_delta" not in got
    assert first.evidence.verdict is Verdict.UNKNOWN
    # Second run: exactly the keys evicted in between (the 500 writes evicted some; the check's own
    # connection may push out a few more on a server this full).
    delta = values(second.evidence)["evicted_keys_delta"]
    assert delta == values(second.evidence)["evicted_keys"] - got["evicted_keys"]
    assert delta >= after - before > 0
    assert second.evidence.verdict is Verdict.WARN
    assert second.evidence.detail["maxmemory_policy"] == info["maxmemory_policy"] == "allkeys-random"
    assert password not in first.evidence.model_dump_json()


async def test_a_restarted_server_counts_evictions_from_zero(limited_redis: tuple[int, str]) -> None:
    port, password = limited_redis
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    ev = (
        await run_check(prepared(url), memo={"evicted_keys": 10**9, "run_id": "a-previous-server"})
    ).evidence
    assert values(ev)["evicted_keys_delta"] == values(ev)["evicted_keys"] == 0


async def test_no_maxmemory_means_no_percentage_and_unknown_not_pass(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    others = [redis.Redis.from_url(redis_url) for _ in range(3)]
    try:
        for o in others:
            o.ping()
        limit = int(client.config_get("maxmemory")["maxmemory"])
        ev = await run_one(redis_url, "conditions: ['memory_used_pct < 90', 'ping_ms < 5000']")
    finally:
        for o in others:
            o.close()
        client.close()
    got = values(ev)
    assert got["connected_clients"] >= 5  # three extra, the test's own, the check's
    assert got["memory_used_bytes"] > 0
    if limit == 0:
        assert "memory_used_pct" not in got
        assert ev.verdict is Verdict.UNKNOWN
        assert "condition unknown: memory_used_pct < 90" in ev.summary
    else:  # someone configured a limit on the shared server: then it is measured
        assert got["memory_max_bytes"] == limit
    assert ev.detail["target"] == "127.0.0.1:6379/0"


async def test_wrong_password_is_an_error_and_the_password_is_nowhere(limited_redis: tuple[int, str]) -> None:
    port, _ = limited_redis
    wrong = f"wrong-{uuid.uuid4().hex[:8]}"
    ev = await run_one(f"redis://default:{wrong}@127.0.0.1:{port}/0")
    assert ev.verdict is Verdict.ERROR
    assert ev.summary.startswith(f"default@127.0.0.1:{port}/0: authentication failed")
    assert wrong not in ev.model_dump_json()

    missing = await run_one(f"redis://127.0.0.1:{port}/0")
    assert missing.verdict is Verdict.ERROR
    assert "authentication" in missing.summary.lower()


async def test_closed_port_is_an_error_with_the_reason() -> None:
    port = free_port()
    ev = await run_one(f"redis://:s3cret-pw@127.0.0.1:{port}/0")
    assert ev.verdict is Verdict.ERROR
    assert ev.summary == f"127.0.0.1:{port}/0: connection refused"


def test_url_must_be_a_redis_url() -> None:
    with pytest.raises(Exception, match="needs a redis://, rediss:// or unix:// URL, not http"):
        prepared("http://127.0.0.1:6379")
