"""A local HTTP target that records every request it serves, for the multi-process tests.

It runs its own event loop in a thread, on 127.0.0.1 and a free port. For each path it records
when requests started and ended, which process sent them (the ``X-Runner-Pid`` header the
``test-probe`` kind sends) and how many were in progress at once. ``/slow/<name>?delay=S`` answers
after ``S`` seconds; ``/hold/<name>`` answers only once ``release()`` is called.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass

from aiohttp import web


@dataclass
class Hit:
    path: str
    pid: str
    start: float  # Unix time
    end: float | None = None
    completed: bool = False


class RecordingTarget:
    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.active: Counter[str] = Counter()
        self.max_active: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._held = True
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def release(self) -> None:
        self._held = False

    def hits_for(self, path: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.path == path]

    def in_progress(self, path: str) -> int:
        with self._lock:
            return self.active[path]

    async def _handle(self, request: web.Request) -> web.Response:
        hit = Hit(request.path, request.headers.get("X-Runner-Pid", "?"), time.time())
        with self._lock:
            self.hits.append(hit)
            self.active[hit.path] += 1
            self.max_active[hit.path] = max(self.max_active[hit.path], self.active[hit.path])
        try:
            if request.path.startswith("/slow/"):
                await asyncio.sleep(float(request.query.get("delay", "0.5")))
            elif request.path.startswith("/hold/"):
                deadline = time.monotonic() + 120
                while self._held and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
            hit.completed = True
            return web.Response(text="ok")
        finally:
            hit.end = time.time()
            with self._lock:
                self.active[hit.path] -= 1

    def start(self) -> RecordingTarget:
        self._thread = threading.Thread(target=self._serve, name="recording-target", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("recording target did not start")
        return self

    def _serve(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def close(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)
