"""Fixtures for the API, cockpit and access tests: an app over a store, users of each role, and a
logged-in client."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Callable, Iterator

import pytest
from argon2 import PasswordHasher, profiles
from fastapi.testclient import TestClient

from flightdeck.access import LoginThrottle, Role, create_user, passwords
from flightdeck.clock import FakeClock
from flightdeck.config import load_config_text
from flightdeck.config.models import Config
from flightdeck.engine.oneshot import run_checks_now
from flightdeck.store import Store
from flightdeck.web.app import create_app

PASSWORD = "correct horse battery staple"

SECRET_VALUE = "pg-s3cret-Zq81xw"
"""A password inside a datasource URL of :func:`tcp_config`: it must never appear in a response."""


def tcp_config(up_port: int, down_port: int, **server: object) -> Config:
    server_yaml = "".join(f"  {k}: {v}\n" for k, v in server.items())
    text = (
        (f"server:\n{server_yaml}" if server_yaml else "")
        + "datasources:\n"
        + "  main:\n"
        + f"    url: postgresql://app:{SECRET_VALUE}@127.0.0.1:5432/app\n"
        + "services:\n"
        + "  web:\n"
        + "    description: The web tier\n"
        + "    checks:\n"
        + f"      - {{name: up, kind: tcp, host: 127.0.0.1, port: {up_port}}}\n"
        + f"      - {{name: down, kind: tcp, host: 127.0.0.1, port: {down_port}, description: refused}}\n"
        + "  api:\n"
        + "    checks:\n"
        + f"      - {{name: up, kind: tcp, host: 127.0.0.1, port: {up_port}}}\n"
    )
    return load_config_text(text, "flightdeck.yaml", env={})


@pytest.fixture
def listening_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield int(sock.getsockname()[1])
    sock.close()


@pytest.fixture
def refused_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield int(sock.getsockname()[1])
    sock.close()


@pytest.fixture
def config(listening_port: int, refused_port: int) -> Config:
    return tcp_config(listening_port, refused_port)


@pytest.fixture
def users(store: Store) -> dict[Role, str]:
    """One user of each role; the user name is the role's name."""
    for role in Role:
        create_user(store, role.value, PASSWORD, role)
    return {role: role.value for role in Role}


@pytest.fixture(autouse=True)
def quick_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with its cheapest parameters: the tests need the algorithm, not its cost (half a
    second per hash here). ``test_the_default_hasher_is_argon2id_rfc9106`` checks the real one."""
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))


AppClient = Callable[..., TestClient]


@pytest.fixture
def make_client(store: Store, config: Config) -> Iterator[AppClient]:
    """Build a TestClient over ``store``; keyword arguments go to :func:`create_app`."""
    clients: list[TestClient] = []

    def make(cfg: Config | None = None, base_url: str = "http://127.0.0.1", **kwargs: object) -> TestClient:
        kwargs.setdefault("throttle", LoginThrottle(store.clock))
        app = create_app(cfg or config, store, **kwargs)  # type: ignore[arg-type]
        client = TestClient(app, base_url=base_url)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client: AppClient) -> TestClient:
    return make_client()


def run_all(config: Config, store: Store) -> None:
    """Run every check once, for real; then let a second pass on the FakeClock (windows are
    half-open, so a record finished *now* is not yet in "the last 24 h")."""
    asyncio.run(run_checks_now(config, store))
    clock = store.clock
    assert isinstance(clock, FakeClock)
    clock.advance(1)


def login_csrf(client: TestClient) -> str:
    page = client.get("/login")
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, "the login form has a CSRF field"
    return match.group(1)


def log_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF token (from the overview page)."""
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf": login_csrf(client), "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    page = client.get("/")
    assert page.status_code == 200
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, "a logged-in page carries the session's CSRF token"
    return match.group(1)
