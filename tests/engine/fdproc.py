"""Run flightdeck in a subprocess with the test check kinds registered.

``python -m tests.engine.fdproc serve -c FILE ...`` runs the real ``flightdeck`` command line;
``python -m tests.engine.fdproc scheduler FILE`` runs a process with only the scheduler (migrate,
schedule until SIGTERM, drain, exit 0).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import tests.engine.kinds  # noqa: F401  (registers test-probe and test-script)
from flightdeck.cli.main import main
from flightdeck.config import load_config
from flightdeck.engine.scheduler import Scheduler
from flightdeck.store import Store


async def scheduler_main(path: str) -> None:
    cfg = load_config(path)
    store = Store(cfg.store.database_url())
    store.migrate()
    scheduler = Scheduler(cfg, store)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, scheduler.stop)
    task = asyncio.create_task(scheduler.run())
    await scheduler.ready.wait()
    print(f"ready {scheduler.node_id}", flush=True)
    await task
    store.dispose()
    print("stopped", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["scheduler"]:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        asyncio.run(scheduler_main(sys.argv[2]))
    else:
        sys.argv[0] = "flightdeck"
        main()
