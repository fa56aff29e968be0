"""Which local database servers the demo can watch: PostgreSQL, MariaDB/MySQL and Redis on
loopback, each added to the demo configuration only when a login works at demo start.

Each is found at a default URL, or at the URL in its environment variable. The generated
configuration refers to the variable (``${FLIGHTDECK_DEMO_POSTGRES_URL:-postgresql://...}``), so a
password given there is never written to disk.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from flightdeck.secret import redact_url

__all__ = ["LocalServer", "ServerKind", "probe_servers"]


class ServerKind(enum.StrEnum):
    POSTGRES = "postgres"
    MYSQL = "mysql"
    REDIS = "redis"


_DEFAULTS = {
    ServerKind.POSTGRES: ("FLIGHTDECK_DEMO_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    ServerKind.MYSQL: ("FLIGHTDECK_DEMO_MYSQL_URL", "mysql://root@127.0.0.1:3306/mysql"),
    ServerKind.REDIS: ("FLIGHTDECK_DEMO_REDIS_URL", "redis://127.0.0.1:6379/0"),
}


@dataclass(frozen=True)
class LocalServer:
    kind: ServerKind
    env_var: str
    default_url: str
    url: str  # what was probed (may hold a password: never print it, use ``display_url``)
    available: bool
    reason: str  # why not, when not available

    @property
    def display_url(self) -> str:
        return redact_url(self.url)

    @property
    def config_url(self) -> str:
        """The URL as written in the configuration: a reference to the environment variable."""
        return f"${{{self.env_var}:-{self.default_url}}}"


def _probe(kind: ServerKind, url: str, timeout: float) -> None:
    parts = urlsplit(url)
    if kind is ServerKind.POSTGRES:
        import psycopg

        with psycopg.connect(url, connect_timeout=max(1, int(timeout))) as conn:
            conn.execute("SELECT 1")
    elif kind is ServerKind.MYSQL:
        import pymysql

        conn = pymysql.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            database=parts.path.lstrip("/") or None,
            connect_timeout=timeout,
        )
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
        finally:
            conn.close()
    else:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()


def probe_servers(
    timeout: float = 2.0, kinds: tuple[ServerKind, ...] = tuple(ServerKind)
) -> list[LocalServer]:
    """Try to log in to each server; which ones the demo can watch, and why not the others."""
    found = []
    for kind in kinds:
        env_var, default = _DEFAULTS[kind]
        url = os.environ.get(env_var) or default
        try:
            _probe(kind, url, timeout)
        except Exception as exc:  # any driver error means "not available"; the reason is shown
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            found.append(LocalServer(kind, env_var, default, url, False, redact_url(reason)))
        else:
            found.append(LocalServer(kind, env_var, default, url, True, ""))
    return found
