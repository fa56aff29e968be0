"""Serving the real app: ``flightdeck.server.serve`` (uvicorn) on 127.0.0.1, port 0, in a thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flightdeck.config.models import Config
from flightdeck.server import Listening, serve
from flightdeck.store import Store


@contextmanager
def serving(config: Config, store: Store, run_scheduler: bool = False) -> Iterator[str]:
    """Yield the base URL of a running flightdeck server; stop it (and wait) on exit."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    found: list[Listening] = []
    failure: list[BaseException] = []

    async def main() -> None:
        await serve(
            config,
            store,
            bind="127.0.0.1",
            port=0,
            run_scheduler=run_scheduler,
            handle_signals=False,
            on_listening=lambda info: (found.append(info), started.set()),
        )

    task_holder: list[asyncio.Task[None]] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        task = loop.create_task(main())
        task_holder.append(task)
        try:
            loop.run_until_complete(task)
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # surfaced to the test below
            failure.append(exc)
        finally:
            started.set()
            loop.close()

    thread = threading.Thread(target=run, name="flightdeck-live", daemon=True)
    thread.start()
    started.wait(timeout=60)
    if failure or not found:
        thread.join(timeout=5)
        raise RuntimeError(f"the server did not start: {failure[0] if failure else 'timeout'}")
    try:
        yield found[0].url
    finally:
        loop.call_soon_threadsafe(task_holder[0].cancel)
        thread.join(timeout=30)
