"""Shared fixtures: stores on SQLite and PostgreSQL, and the local database services.

Tests that need PostgreSQL, MariaDB or Redis skip when the service is not reachable, except when
``FLIGHTDECK_REQUIRE_SERVICES=1`` (CI), where they fail instead.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from flightdeck.clock import FakeClock
from flightdeck.store import Store
from flightdeck.store.tables import metadata

REQUIRE_SERVICES = os.environ.get("FLIGHTDECK_REQUIRE_SERVICES") == "1"

PG_ADMIN_URL = os.environ.get("FLIGHTDECK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("FLIGHTDECK_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
REDIS_URL = os.environ.get("FLIGHTDECK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need_service(name: str, host: str, port: int) -> None:
    """Skip (locally) or fail (CI) when a service is not reachable."""
    if _reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " and FLIGHTDECK_REQUIRE_SERVICES=1")
    pytest.skip(message)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    need_service("PostgreSQL", "127.0.0.1", 5432)
    return PG_ADMIN_URL


@pytest.fixture(scope="session")
def pg_database(pg_admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for this test worker, dropped at the end; yields its URL."""
    name = f"flightdeck_test_{_worker()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        pg_admin_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def _pg_store_migrated(pg_database: str) -> str:
    Store(pg_database).migrate()
    return pg_database


@pytest.fixture
def mysql_url() -> str:
    need_service("MariaDB", "127.0.0.1", 3306)
    return MYSQL_URL


@pytest.fixture
def redis_url() -> str:
    need_service("Redis", "127.0.0.1", 6379)
    return REDIS_URL


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _truncate(store: Store) -> None:
    with store.engine.begin() as conn:
        names = ", ".join(t.name for t in metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    """A migrated, empty store on SQLite and on PostgreSQL; the test runs once for each."""
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'flightdeck.db'}", clock=clock)
        s.migrate()
    else:
        url = request.getfixturevalue("_pg_store_migrated")
        s = Store(url, clock=clock)
        _truncate(s)
    yield s
    s.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'flightdeck.db'}", clock=clock)
    s.migrate()
    yield s
    s.dispose()
