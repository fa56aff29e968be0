"""Real targets on loopback for the HTTP, TLS and rate-limit checks, well-behaved and not.

Every server binds 127.0.0.1 port 0; tests read the port back. Misbehaving targets are plain asyncio
servers: one that accepts and never answers, one that resets the connection, one that answers with
garbage. A "closed port" is a socket bound but not listening, so connecting to it is refused for as
long as the test holds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import trustme
from aiohttp import web
from multidict import CIMultiDict

from flightdeck.checks.base import CheckContext
from flightdeck.config import load_config_text
from flightdeck.engine.runner import prepare_checks, run_check
from flightdeck.evidence import NewEvidence

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Recorded:
    method: str
    path: str
    headers: CIMultiDict[str]
    body: bytes


@dataclass
class HttpTarget:
    """An aiohttp server whose routes the test sets; it records every request it receives."""

    base: str
    requests: list[Recorded] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path


def _coroutine(handler: Handler) -> Handler:
    # aiohttp wants coroutine functions; a callable object (a stateful test handler) is wrapped.
    async def call(request: web.Request) -> web.StreamResponse:
        return await handler(request)

    return call


@contextlib.asynccontextmanager
async def http_target(
    routes: dict[str, Handler], ssl_context: ssl.SSLContext | None = None, host: str = "127.0.0.1"
) -> AsyncIterator[HttpTarget]:
    app = web.Application()
    scheme = "https" if ssl_context else "http"
    target = HttpTarget(base="")

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.read()
        target.requests.append(Recorded(request.method, request.path, CIMultiDict(request.headers), body))
        return await handler(request)

    app.middlewares.append(record)
    for spec, handler in routes.items():
        method, _, path = spec.partition(" ") if " " in spec else ("*", "", spec)
        app.router.add_route(method, path, _coroutine(handler))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    target.base = f"{scheme}://{host}:{port}"
    try:
        yield target
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def raw_server(
    on_connect: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[int]:
    """A TCP (or TLS) server calling ``on_connect`` for each connection; yields its port."""
    tasks: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await on_connect(reader, writer)
        except (ConnectionError, ssl.SSLError, asyncio.CancelledError):
            pass
        finally:
            tasks.discard(task)
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ssl_context)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept, read the request, never answer."""
    await asyncio.sleep(3600)


async def idle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Keep the connection open until the client leaves."""
    await reader.read()


async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the request, then abort the connection with a TCP RST."""
    await reader.read(1024)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer an HTTP request with bytes that are not HTTP."""
    await reader.read(1024)
    writer.write(b"\x00\x17SSH-2.0-OpenSSH_9.2 definitely not http\r\n\r\n")
    await writer.drain()
    await asyncio.sleep(0.05)


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 where connections are refused (bound, not listening)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


# -- TLS -----------------------------------------------------------------------------------------


@dataclass
class Pki:
    """A CA with a leaf for ``localhost`` and ``127.0.0.1``; ``ca_file`` is the CA's PEM on disk."""

    ca: trustme.CA
    leaf: trustme.LeafCert
    ca_file: Path

    def server_context(
        self, leaf: trustme.LeafCert | None = None, maximum: ssl.TLSVersion | None = None
    ) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        (leaf or self.leaf).configure_cert(ctx)
        if maximum is not None:
            ctx.maximum_version = maximum
        return ctx


def make_pki(folder: Path) -> Pki:
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return Pki(ca, leaf, ca_file)


# -- running a check -----------------------------------------------------------------------------


async def run_yaml(
    check_yaml: str, env: dict[str, str] | None = None, base_dir: Path | None = None
) -> NewEvidence:
    """Load one check written in YAML (a list item), run it once, return its evidence."""
    text = "services:\n  svc:\n    checks:\n" + textwrap.indent(textwrap.dedent(check_yaml), "      ")
    config = load_config_text(text, "flightdeck.yaml", env=env or {}, base_dir=base_dir)
    context = CheckContext(config=config)
    try:
        (prepared,) = prepare_checks(config, context)
        result = await run_check(prepared)
    finally:
        await context.aclose()
    return result.evidence


# -- database checks (mysql, postgres) -----------------------------------------------------------


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run_one(check_yaml: str, datasources: str = "") -> NewEvidence:
    """Run one check (YAML indented for service ``db``'s list), with optional ``datasources``."""
    text = (datasources and f"datasources:\n{datasources}") + "services:\n  db:\n    checks:\n" + check_yaml
    config = load_config_text(text, "t.yaml", env={})
    (prepared,) = prepare_checks(config, CheckContext(config=config))
    return (await run_check(prepared)).evidence


def values(ev: NewEvidence) -> dict[str, float]:
    """The evidence's measurements, by name."""
    return {m.name: m.value for m in ev.measurements}
