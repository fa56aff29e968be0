"""``python -m flightdeck.demo.service --db PATH --port N [--https-port M --cert F --key F] ...``

With ``--gateway-url URL`` (or ``DEMO_GATEWAY_URL``) top-ups are charged through that card gateway
over HTTP instead of the in-process simulation; ``--gateway-retry broken`` (or
``DEMO_GATEWAY_RETRY=broken``) makes every retry send a new idempotency key (the classic bug).

Runs the demo payments service until SIGTERM or SIGINT. Once listening it prints one JSON line on
stdout: ``{"event": "listening", "pid": ..., "http_url": ..., "https_url": ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

from flightdeck.demo.service.app import start_service
from flightdeck.demo.service.gateway_client import RetryMode
from flightdeck.demo.service.state import ServiceSettings
from flightdeck.secret import Secret


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m flightdeck.demo.service", description=__doc__)
    p.add_argument("--db", type=Path, required=True, help="SQLite database file (created if missing)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="HTTP port (0: any free port)")
    p.add_argument("--https-port", type=int, default=0, help="HTTPS port (0: any free port)")
    p.add_argument("--cert", type=Path, help="PEM certificate chain; without it, HTTP only")
    p.add_argument("--key", type=Path, help="PEM private key of --cert")
    p.add_argument("--admin-token-file", type=Path, help="file holding the token for /admin endpoints")
    p.add_argument("--login-limit", type=int, default=5, help="login attempts per client and account ...")
    p.add_argument("--login-window", type=float, default=60.0, help="... per this many seconds")
    p.add_argument("--settle-delay", type=float, default=0.5, help="seconds before the gateway answers")
    p.add_argument(
        "--chaos-every", type=float, default=0.0, help="mean seconds between random faults (0: off)"
    )
    p.add_argument("--pool-size", type=int, default=4, help="database connections")
    g = p.add_argument_group("card gateway (default: simulated in-process)")
    g.add_argument(
        "--gateway-url",
        default=os.environ.get("DEMO_GATEWAY_URL") or None,
        help="charge top-ups through this gateway (env DEMO_GATEWAY_URL)",
    )
    g.add_argument(
        "--gateway-retry",
        type=RetryMode,
        choices=list(RetryMode),
        default=os.environ.get("DEMO_GATEWAY_RETRY") or RetryMode.CORRECT.value,
        help="correct: one idempotency key per payment; broken: a new key per retry (env DEMO_GATEWAY_RETRY)",
    )
    g.add_argument("--gateway-timeout", type=float, default=2.0, help="seconds per charge attempt")
    g.add_argument("--gateway-attempts", type=int, default=4, help="attempts per charge before unknown")
    g.add_argument("--gateway-backoff", type=float, default=0.2, help="first retry waits up to this (s)")
    g.add_argument("--gateway-backoff-max", type=float, default=2.0, help="no retry waits longer (s)")
    g.add_argument(
        "--gateway-resolve-after", type=float, default=1.0, help="unknown outcomes: look up after (s)"
    )
    p.add_argument("--log-level", default="info")
    return p.parse_args(argv)


def settings_from(args: argparse.Namespace) -> ServiceSettings:
    token = None
    if args.admin_token_file is not None:
        token = Secret(args.admin_token_file.read_text(encoding="utf-8").strip())
    return ServiceSettings(
        db_path=args.db,
        host=args.host,
        http_port=args.port,
        https_port=args.https_port,
        cert_file=args.cert,
        key_file=args.key,
        admin_token=token,
        login_limit=args.login_limit,
        login_window=args.login_window,
        settle_delay=args.settle_delay,
        chaos_every=args.chaos_every,
        pool_size=args.pool_size,
        gateway_url=args.gateway_url,
        gateway_retry=args.gateway_retry,
        gateway_timeout=args.gateway_timeout,
        gateway_attempts=args.gateway_attempts,
        gateway_backoff=args.gateway_backoff,
        gateway_backoff_max=args.gateway_backoff_max,
        gateway_resolve_after=args.gateway_resolve_after,
    )


async def run(settings: ServiceSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    service = await start_service(settings)
    print(
        json.dumps(
            {
                "event": "listening",
                "pid": os.getpid(),
                "http_url": service.http_url,
                "https_url": service.https_url,
            }
        ),
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await service.stop()
    logging.getLogger("flightdeck.demo.service").info("stopped")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        settings = settings_from(args)
    except OSError as exc:
        print(f"error: cannot read --admin-token-file: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(run(settings))
    except OSError as exc:
        print(f"error: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
