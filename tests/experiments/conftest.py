"""A service on loopback whose readiness a test can break, and configuration files written for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from flightdeck.config import Config, load_config

ADMIN_TOKEN = "s3cr3t-admin-token-4711"


@dataclass
class Toy:
    """A tiny service: ``/ready`` answers 200 or 503; ``/admin/break`` and ``/admin/fix`` (bearer token
    required) switch it; with ``fix_works`` false, a fix is accepted but changes nothing."""

    url: str
    ready: bool = True
    fix_works: bool = True
    admin_calls: list[str] = field(default_factory=list)


@pytest.fixture
async def toy() -> AsyncIterator[Toy]:
    state = Toy(url="")

    async def ready(request: web.Request) -> web.Response:
        if state.ready:
            return web.json_response({"status": "pass", "db": "up"})
        return web.json_response({"status": "fail", "db": "down"}, status=503)

    def admin(active: bool) -> Callable[[web.Request], object]:
        async def handler(request: web.Request) -> web.Response:
            if request.headers.get("Authorization") != f"Bearer {ADMIN_TOKEN}":
                return web.json_response({"error": "unauthorized"}, status=401)
            state.admin_calls.append(request.path)
            state.ready = active and state.fix_works
            return web.json_response({"ready": state.ready})

        return handler

    app = web.Application()
    app.router.add_get("/ready", ready)
    app.router.add_post("/admin/break", admin(False))  # type: ignore[arg-type]
    app.router.add_post("/admin/fix", admin(True))  # type: ignore[arg-type]
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.url = f"http://127.0.0.1:{port}"
    yield state
    await runner.cleanup()


def service_yaml(toy: Toy) -> str:
    """A ``web`` service with a ``ready`` check against the toy."""
    return f"""
services:
  web:
    checks:
      - {{name: ready, kind: http, url: "{toy.url}/ready", expect: {{status: 200}}}}
"""


def write_config(folder: Path, text: str, env: dict[str, str] | None = None) -> Config:
    path = folder / "flightdeck.yaml"
    path.write_text(f"store: {{state_dir: {folder}}}\n" + text, encoding="utf-8")
    return load_config(path, env=env or {})
