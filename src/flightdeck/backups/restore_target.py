"""The restore target, per engine: what it holds now, creating it, loading a decoded dump, counting rows.

Each engine gets the same four operations (:func:`inspect_target`, :func:`ensure_database`,
:func:`load_dump`, :func:`count_rows`), written as plain functions over a :class:`DatabaseUrl`:

- PostgreSQL: ``pg_restore --no-owner --clean --if-exists``; a custom archive is restored with
  ``--single-transaction`` (all or nothing), a directory archive with ``-j jobs`` (parallel, hence not
  in one transaction). ``--clean`` drops only the objects the archive holds; other tables in the
  target stay.
- MySQL / MariaDB: the SQL text piped into ``mariadb`` (or ``mysql``); the dump drops and recreates
  each table it holds.
- SQLite: the decoded database file copied with the online backup API into a temporary file next to
  the target, which then atomically replaces it (``os.replace``). The target's WAL is checkpointed
  first so no stale ``-wal`` file outlives it. Stop writers to the file for the duration.

Passwords reach the tools through ``PGPASSWORD`` / ``MYSQL_PWD``, never argv; error messages are cleaned
of them.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pymysql
from psycopg import sql

from flightdeck.backups.engines.mysql import conn_args as mysql_conn_args
from flightdeck.backups.engines.postgres import TABLES_SQL, conn_args, libpq_dsn, tool_env
from flightdeck.backups.engines.process import READ_SIZE
from flightdeck.backups.errors import BackupError
from flightdeck.datasources import DatabaseUrl, Dialect

__all__ = [
    "TargetState",
    "connect",
    "count_rows",
    "drop_database",
    "ensure_database",
    "inspect_target",
    "load_dump",
    "target_name",
]

Advance = Callable[[int], None]
_UNDEFINED_DATABASE = ("3D000",)  # PostgreSQL invalid_catalog_name


@dataclass(frozen=True)
class TargetState:
    """The target as found before anything was changed: whether it exists and the tables it holds."""

    exists: bool
    tables: tuple[str, ...]

    @property
    def holds_tables(self) -> bool:
        return bool(self.tables)


def target_name(url: DatabaseUrl) -> str:
    """The name an operator must type to confirm: the database name, or the SQLite file's name."""
    if url.dialect is Dialect.SQLITE:
        assert url.path is not None
        return Path(url.path).name
    if not url.database:
        raise BackupError(f"the restore target {url.describe()} names no database")
    return url.database


def _fail(url: DatabaseUrl, exc: BaseException) -> BackupError:
    lines = str(exc).strip().splitlines()
    return BackupError(f"{url.where}: {url.clean(lines[0] if lines else type(exc).__name__)}")


# -- PostgreSQL ---------------------------------------------------------------------------------------


def _pg_connect(url: DatabaseUrl, database: str | None = None) -> psycopg.Connection[Any]:
    dsn = libpq_dsn(url)
    kwargs: dict[str, Any] = {"dbname": database} if database else {}
    return psycopg.connect(dsn, connect_timeout=10, application_name="flightdeck-restore", **kwargs)


def _pg_tables(conn: psycopg.Connection[Any]) -> list[str]:
    return [f"{schema}.{table}" for schema, table in conn.execute(TABLES_SQL).fetchall()]


def _pg_inspect(url: DatabaseUrl) -> TargetState:
    try:
        with _pg_connect(url) as conn:
            return TargetState(True, tuple(_pg_tables(conn)))
    except psycopg.Error as exc:
        if exc.sqlstate in _UNDEFINED_DATABASE or not _pg_exists(url):
            return TargetState(False, ())
        raise _fail(url, exc) from None


def _pg_exists(url: DatabaseUrl) -> bool:
    """Whether the database exists, asked of the ``postgres`` maintenance database (a connection
    error's SQLSTATE is not reported by libpq, so "does not exist" cannot be told apart otherwise)."""
    try:
        with _pg_connect(url, "postgres") as conn:
            row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target_name(url),)).fetchone()
            return row is not None
    except psycopg.Error:
        return True  # cannot tell: report the original error


def _pg_create(url: DatabaseUrl) -> None:
    try:
        with _pg_connect(url, "postgres") as conn:
            conn.autocommit = True
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target_name(url))))
    except psycopg.Error as exc:
        raise _fail(url, exc) from None


def _pg_load(url: DatabaseUrl, dump: Path, jobs: int) -> None:
    argv = ["pg_restore", *conn_args(url), "--no-owner", "--clean", "--if-exists"]
    if dump.is_dir():
        argv.append(f"--jobs={jobs}")
    else:
        argv += ["--single-transaction", "--exit-on-error"]
    _run([*argv, str(dump)], {**tool_env(url), "PGAPPNAME": "flightdeck-restore"}, url, None)


def _pg_counts(url: DatabaseUrl, tables: Iterable[str]) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    try:
        with _pg_connect(url) as conn:
            present = set(_pg_tables(conn))
            for name in tables:
                schema, _, table = name.rpartition(".")
                if name not in present:
                    out[name] = None
                    continue
                query = sql.SQL("SELECT count(*) FROM {}.{}").format(
                    sql.Identifier(schema or "public"), sql.Identifier(table)
                )
                row = conn.execute(query).fetchone()
                out[name] = int(row[0]) if row else 0
    except psycopg.Error as exc:
        raise _fail(url, exc) from None
    return out


# -- MySQL / MariaDB ----------------------------------------------------------------------------------


def _my_connect(url: DatabaseUrl, database: str | None = None) -> Any:
    return pymysql.connect(
        host=url.host or "localhost",
        port=url.port or 3306,
        user=url.user or "root",
        password=url.password.reveal() if url.password else "",
        database=database,
        unix_socket=url.options.get("unix_socket"),
        connect_timeout=10,
        charset="utf8mb4",
        autocommit=True,
    )


def _my_tables(cur: Any, database: str) -> list[str]:
    cur.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
        "AND table_type = 'BASE TABLE' ORDER BY table_name",
        (database,),
    )
    return [str(r[0]) for r in cur.fetchall()]


def _my_inspect(url: DatabaseUrl) -> TargetState:
    name = target_name(url)
    try:
        conn = _my_connect(url)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (name,))
                if cur.fetchone() is None:
                    return TargetState(False, ())
                return TargetState(True, tuple(_my_tables(cur, name)))
        finally:
            conn.close()
    except pymysql.err.MySQLError as exc:
        raise _fail(url, exc) from None


def _my_create(url: DatabaseUrl) -> None:
    quoted = "`" + target_name(url).replace("`", "``") + "`"
    try:
        conn = _my_connect(url)
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE IF NOT EXISTS {quoted}")
        finally:
            conn.close()
    except pymysql.err.MySQLError as exc:
        raise _fail(url, exc) from None


def _client_tool() -> str:
    for name in ("mariadb", "mysql"):
        if shutil.which(name):
            return name
    raise BackupError("neither mariadb nor mysql (the client) is installed (not found on PATH)")


def _my_load(url: DatabaseUrl, dump: Path, advance: Advance | None) -> None:
    argv = [_client_tool(), *mysql_conn_args(url), "--default-character-set=utf8mb4", target_name(url)]
    env = {"MYSQL_PWD": url.password.reveal()} if url.password else {}
    _run(argv, env, url, (dump, advance))


def _my_counts(url: DatabaseUrl, tables: Iterable[str]) -> dict[str, int | None]:
    name = target_name(url)
    out: dict[str, int | None] = {}
    try:
        conn = _my_connect(url)
        try:
            with conn.cursor() as cur:
                present = set(_my_tables(cur, name))
                for table in tables:
                    if table not in present:
                        out[table] = None
                        continue
                    cur.execute(
                        f"SELECT COUNT(*) FROM `{name.replace('`', '``')}`.`{table.replace('`', '``')}`"  # noqa: S608
                    )
                    out[table] = int(cur.fetchone()[0])
        finally:
            conn.close()
    except pymysql.err.MySQLError as exc:
        raise _fail(url, exc) from None
    return out


# -- SQLite -------------------------------------------------------------------------------------------


def _sqlite_path(url: DatabaseUrl) -> Path:
    assert url.path is not None
    return Path(url.path).expanduser()


def _sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    )
    return [str(r[0]) for r in rows]


def _sqlite_inspect(url: DatabaseUrl) -> TargetState:
    path = _sqlite_path(url)
    if not path.exists():
        return TargetState(False, ())
    try:
        with closing(sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)) as conn:
            return TargetState(True, tuple(_sqlite_tables(conn)))
    except sqlite3.Error as exc:
        raise BackupError(f"{path}: not a readable SQLite database: {exc}") from None


def _sqlite_load(url: DatabaseUrl, dump: Path) -> None:
    path = _sqlite_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.restore-", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with closing(sqlite3.connect(dump)) as src, closing(sqlite3.connect(tmp)) as dst:
            src.backup(dst, pages=1024)
        if path.exists():
            with closing(sqlite3.connect(path)) as old:
                old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        os.replace(tmp, path)
    except sqlite3.Error as exc:
        raise BackupError(f"{path}: SQLite restore failed: {exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


def _sqlite_counts(url: DatabaseUrl, tables: Iterable[str]) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    with closing(sqlite3.connect(_sqlite_path(url))) as conn:
        present = set(_sqlite_tables(conn))
        for table in tables:
            quoted = '"' + table.replace('"', '""') + '"'
            out[table] = (
                int(conn.execute(f"SELECT count(*) FROM {quoted}").fetchone()[0])  # noqa: S608
                if table in present
                else None
            )
    return out


# -- running a client tool ----------------------------------------------------------------------------


def _run(
    argv: list[str], env: dict[str, str], url: DatabaseUrl, stdin: tuple[Path, Advance | None] | None
) -> None:
    """Run a client tool (stdin fed from a file when given); BackupError, password-free, on failure."""
    tool = argv[0]
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(  # noqa: S603 - fixed tool, no shell
                argv,
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                env={**os.environ, **env},
            )
        except FileNotFoundError:
            raise BackupError(f"{tool} is not installed (not found on PATH)") from None
        try:
            if stdin is not None:
                assert proc.stdin is not None
                path, advance = stdin
                try:
                    with open(path, "rb") as fh:
                        while chunk := fh.read(READ_SIZE):
                            proc.stdin.write(chunk)
                            if advance is not None:
                                advance(len(chunk))
                except BrokenPipeError:
                    pass  # the tool stopped reading: its exit code and stderr say why
                finally:
                    with suppress(BrokenPipeError):
                        proc.stdin.close()
            rc = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        if rc != 0:
            err.seek(0)
            text = url.clean(err.read().decode("utf-8", "replace"))
            lines = [line for line in text.strip().splitlines() if line.strip()]
            raise BackupError(f"{tool} failed (exit {rc}): {' | '.join(lines[-3:]) or 'no message'}")


# -- dispatch -----------------------------------------------------------------------------------------


def inspect_target(url: DatabaseUrl) -> TargetState:
    """Read-only look at the target: exists? which tables?"""
    if url.dialect is Dialect.POSTGRESQL:
        return _pg_inspect(url)
    if url.dialect is Dialect.MYSQL:
        return _my_inspect(url)
    return _sqlite_inspect(url)


def ensure_database(url: DatabaseUrl) -> None:
    """Create the target database (PostgreSQL, MySQL); a SQLite file is created by the load."""
    if url.dialect is Dialect.POSTGRESQL:
        _pg_create(url)
    elif url.dialect is Dialect.MYSQL:
        _my_create(url)


def load_dump(url: DatabaseUrl, dump: Path, *, jobs: int = 1, advance: Advance | None = None) -> None:
    """Load a decoded dump (file, or directory for a PostgreSQL directory archive) into the target."""
    if url.dialect is Dialect.POSTGRESQL:
        _pg_load(url, dump, jobs)
    elif url.dialect is Dialect.MYSQL:
        _my_load(url, dump, advance)
    else:
        _sqlite_load(url, dump)


@contextmanager
def connect(url: DatabaseUrl) -> Iterator[Any]:
    """A DB-API connection to the target database (autocommit off on PostgreSQL and SQLite), closed
    on leaving; connection errors become a password-free :class:`BackupError`."""
    try:
        if url.dialect is Dialect.POSTGRESQL:
            conn: Any = _pg_connect(url)
        elif url.dialect is Dialect.MYSQL:
            conn = _my_connect(url, target_name(url))
        else:
            conn = sqlite3.connect(_sqlite_path(url))
    except (psycopg.Error, pymysql.err.MySQLError, sqlite3.Error) as exc:
        raise _fail(url, exc) from None
    try:
        yield conn
    finally:
        conn.close()


def drop_database(url: DatabaseUrl) -> None:
    """Drop the target database (PostgreSQL: ending its sessions; SQLite: delete the file and its
    ``-wal``/``-shm``). Dropping one that does not exist is not an error."""
    try:
        if url.dialect is Dialect.POSTGRESQL:
            with _pg_connect(url, "postgres") as conn:
                conn.autocommit = True
                query = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                conn.execute(query.format(sql.Identifier(target_name(url))))
        elif url.dialect is Dialect.MYSQL:
            conn = _my_connect(url)
            try:
                with conn.cursor() as cur:
                    cur.execute("DROP DATABASE IF EXISTS `" + target_name(url).replace("`", "``") + "`")
            finally:
                conn.close()
        else:
            path = _sqlite_path(url)
            for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                p.unlink(missing_ok=True)
    except (psycopg.Error, pymysql.err.MySQLError) as exc:
        raise _fail(url, exc) from None


def count_rows(url: DatabaseUrl, tables: Iterable[str]) -> dict[str, int | None]:
    """Rows per table now in the target; ``None`` for a table that is missing."""
    if url.dialect is Dialect.POSTGRESQL:
        return _pg_counts(url, tables)
    if url.dialect is Dialect.MYSQL:
        return _my_counts(url, tables)
    return _sqlite_counts(url, tables)
