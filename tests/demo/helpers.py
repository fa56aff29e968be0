"""Small helpers shared by the demo tests."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import JsonValue

from flightdeck.checks.base import CheckContext
from flightdeck.config import Config, load_config
from flightdeck.demo.config import config_values, render_config
from flightdeck.demo.service import RunningService
from flightdeck.engine.oneshot import run_checks_now
from flightdeck.engine.runner import prepare_checks, run_check
from flightdeck.evidence import NewEvidence, Trigger
from flightdeck.payments.ledger import generate_keypair


async def eventually(probe: Callable[[], Awaitable[Any]], what: str, timeout: float = 15.0) -> Any:
    """Poll ``probe`` until it returns something truthy (a background worker has caught up)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        await asyncio.sleep(0.05)


def query(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read the service's database the way an outside observer does: a separate, read-only connection."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [tuple(r) for r in conn.execute(sql, params).fetchall()]
    finally:
        conn.close()


def scalar(db: Path, sql: str, params: tuple[Any, ...] = ()) -> Any:
    return query(db, sql, params)[0][0]


def demo_config(service: RunningService, ca_file: Path, folder: Path) -> Config:
    """The bundled demo configuration, filled in for a service running in the test."""
    assert service.https_port is not None
    values = config_values(
        cockpit_port=8450,
        service_http_port=service.http_port,
        service_https_port=service.https_port,
        ca_file=ca_file,
        payments_db=service.state.settings.db_path,
    )
    path = folder / "flightdeck-demo.yaml"
    path.write_text(render_config(values), encoding="utf-8")
    if not (folder / "ledger-signing.key").exists():  # made by the estate in a real demo
        generate_keypair(folder, "ledger-signing")
        (folder / "backup.key").write_text(os.urandom(32).hex() + "\n", encoding="utf-8")
    token = service.state.settings.admin_token
    if token is not None:  # the estate keeps the service's admin token next to the configuration
        (folder / "admin-token").write_text(token.reveal() + "\n", encoding="utf-8")
    return load_config(path)


async def run_demo_check(config: Config, name: str) -> NewEvidence:
    """Run one check of the demo configuration once, exactly as the scheduler would."""
    (result,) = await run_checks_now(config, None, f"payments/{name}")
    return result.evidence


class DemoChecks:
    """The demo configuration's checks, run as the scheduler runs them: the memo of one run (the
    previous scrape, for rates) is handed to the next."""

    def __init__(self, config: Config) -> None:
        self.context = CheckContext(config=config)
        self.checks = {c.name: c for c in prepare_checks(config, self.context)}
        self.memos: dict[str, JsonValue] = {}

    async def run(self, name: str) -> NewEvidence:
        result = await run_check(self.checks[name], Trigger.MANUAL, self.memos.get(name))
        self.memos[name] = result.memo
        return result.evidence

    async def aclose(self) -> None:
        await self.context.aclose()
