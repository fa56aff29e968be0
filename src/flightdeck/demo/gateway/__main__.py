"""``python -m flightdeck.demo.gateway [--host H] [--port N] [--journal FILE]``

Runs the fake card gateway until SIGTERM or SIGINT. Once listening it prints one JSON line on
stdout: ``{"event": "listening", "pid": ..., "url": ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from flightdeck.demo.gateway.app import start_gateway

__all__ = ["main", "parse_args"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m flightdeck.demo.gateway", description=__doc__)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (0: any free port)")
    p.add_argument("--journal", type=Path, help="JSON-lines file of processed charges (kept across runs)")
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    gateway = await start_gateway(args.host, args.port, args.journal)
    print(json.dumps({"event": "listening", "pid": os.getpid(), "url": gateway.url}), flush=True)
    try:
        await stop.wait()
    finally:
        await gateway.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        asyncio.run(run(args))
    except OSError as exc:
        print(f"error: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
