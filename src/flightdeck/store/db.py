"""Opening the store: engine, SQLite pragmas, migrations."""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from flightdeck.clock import Clock, SystemClock
from flightdeck.errors import StoreError
from flightdeck.secret import redact_url

__all__ = ["Store", "normalize_url"]

log = logging.getLogger(__name__)


def normalize_url(url: str) -> str:
    """Pick the driver flightdeck uses for each backend (psycopg 3 for PostgreSQL)."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    elif u.drivername in ("mysql", "mariadb"):
        u = u.set(drivername="mysql+pymysql")
    return u.render_as_string(hide_password=False)


class Store:
    """The evidence store. SQLite (WAL) by default, PostgreSQL in production."""

    def __init__(self, url: str, clock: Clock | None = None, echo: bool = False) -> None:
        self.url = normalize_url(url)
        self.clock: Clock = clock or SystemClock()
        u = make_url(self.url)
        self.dialect = u.get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.dialect == "sqlite":
            if u.database and u.database != ":memory:":
                Path(u.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            kwargs["pool_pre_ping"] = True
            kwargs["pool_size"] = 10
            kwargs["max_overflow"] = 20
        try:
            self.engine: Engine = create_engine(self.url, **kwargs)
        except (SQLAlchemyError, ImportError) as exc:
            raise StoreError(f"cannot open store {redact_url(url)}: {exc}") from exc
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)

    def __repr__(self) -> str:
        return f"Store({redact_url(self.url)!r})"

    @property
    def display_url(self) -> str:
        return redact_url(self.url)

    # -- migrations -------------------------------------------------------------------------
    def _alembic(self) -> AlembicConfig:
        cfg = AlembicConfig()
        location = resources.files("flightdeck.store") / "migrations"
        cfg.set_main_option("script_location", str(location))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return cfg

    def migrate(self) -> None:
        """Bring the schema to the newest revision (idempotent)."""
        cfg = self._alembic()
        try:
            with self.engine.begin() as conn:
                if self.dialect == "postgresql":
                    # Two processes starting at once must not migrate concurrently.
                    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7243911250601)")
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot migrate store {self.display_url}: {exc}") from exc

    def schema_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(self._alembic()).get_current_head()

    def is_current(self) -> bool:
        try:
            return self.schema_revision() == self.head_revision()
        except SQLAlchemyError:
            return False

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except SQLAlchemyError:
            return False

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
