"""A local HTTP receiver standing in for WhatsApp, Telegram, Slack, PagerDuty and webhooks.

It runs an aiohttp server on 127.0.0.1 (a free port) in a thread of its own, so both async tests and
synchronous CLI tests (which run their own event loop) can talk to it. It records every request
(method, path, headers, body, and the status it answered) and can be told, per path, to answer a
status (200, 202, 400, 500, 429 with ``Retry-After``) or to hang until the test ends.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = ["Receiver", "Recorded", "Reply"]


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int | None  # None: the request was left hanging

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def key(self) -> str | None:
        return self.headers.get("Idempotency-Key")


@dataclass
class Reply:
    status: int = 200
    body: str = '{"ok": true}'
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._replies: dict[str, Reply] = {}
        self._default = Reply()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="receiver", daemon=True)
        self._runner: web.AppRunner | None = None
        self._release: asyncio.Event | None = None
        self.port = 0

    # -- control ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reply(
        self,
        path: str | None,
        status: int = 200,
        *,
        body: str | None = None,
        headers: dict[str, str] | None = None,
        hang: bool = False,
    ) -> None:
        """Answer requests to ``path`` (every path when None) like this from now on."""
        r = Reply(status, body if body is not None else '{"ok": true}', dict(headers or {}), hang)
        with self._lock:
            if path is None:
                self._default = r
                self._replies.clear()
            else:
                self._replies[path] = r

    def received(self, path: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def delivered_keys(self) -> Counter[str | None]:
        """Idempotency keys of requests answered 2xx, with how often each was answered 2xx."""
        return Counter(r.key for r in self.received() if r.status is not None and 200 <= r.status < 300)

    # -- server -----------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        with self._lock:
            reply = self._replies.get(request.path, self._default)
        if reply.hang:
            with self._lock:
                self.requests.append(
                    Recorded(request.method, request.path, dict(request.headers), body, None)
                )
            assert self._release is not None
            await self._release.wait()
            raise web.HTTPServiceUnavailable()
        with self._lock:
            self.requests.append(
                Recorded(request.method, request.path, dict(request.headers), body, reply.status)
            )
        return web.Response(
            status=reply.status, text=reply.body, headers=reply.headers, content_type="application/json"
        )

    async def _start(self) -> None:
        self._release = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    def start(self) -> Receiver:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            assert self._release is not None
            assert self._runner is not None
            self._release.set()
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
