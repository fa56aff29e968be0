"""PostgreSQL: ``pg_dump`` inside an exported snapshot, so row counts and the dump see the same data.

1. A connection opens a ``REPEATABLE READ READ ONLY`` transaction and calls ``pg_export_snapshot()``;
   in that transaction it reads the WAL position (``pg_current_wal_lsn()``, or
   ``pg_last_wal_replay_lsn()`` on a standby) and counts the rows of every table (or of
   ``tables_to_count``).
2. ``pg_dump --snapshot=<id>`` dumps exactly that snapshot; the transaction stays open until pg_dump
   has finished, which is what keeps the snapshot importable. The counts are therefore exact for the
   dump, and the LSN is the point the dump corresponds to (the first LSN after which changes are not
   in it, give or take transactions in flight at that instant, which the snapshot excludes).
3. ``custom`` format streams from pg_dump's stdout. ``directory`` format (``jobs`` > 1 dumps tables
   in parallel, each worker importing the same snapshot) is written to a temporary directory, then
   packed into one uncompressed POSIX tar stream (files sorted by name) and the directory removed.
   ``pg_restore`` reads the unpacked directory.

pg_dump's own compression is switched off (``--compress=0``): zstd in the pipeline compresses
better and faster, and compressed input would not compress again.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from flightdeck.backups.engines.base import Dump, DumpInfo, Engine, register_engine
from flightdeck.backups.engines.process import READ_SIZE, run_version, stream_command
from flightdeck.backups.errors import BackupError
from flightdeck.backups.manifest import EngineKind
from flightdeck.config.backups import PgFormat
from flightdeck.datasources import DatabaseUrl, Dialect

__all__ = ["TABLES_SQL", "PostgresEngine", "conn_args", "libpq_dsn", "tar_directory", "tool_env"]

TABLES_SQL = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
ORDER BY 1, 2
"""
_POINT = """
SELECT pg_export_snapshot(), pg_is_in_recovery(),
       (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text,
       current_setting('server_version')
"""


def libpq_dsn(url: DatabaseUrl) -> str:
    raw = url.secret.reveal()
    return "postgresql://" + raw.split("://", 1)[1]


def tool_env(url: DatabaseUrl) -> dict[str, str]:
    env = {"PGAPPNAME": "flightdeck-backup", "PGCONNECT_TIMEOUT": "10"}
    if url.password is not None:
        env["PGPASSWORD"] = url.password.reveal()
    for option, var in (("sslmode", "PGSSLMODE"), ("sslrootcert", "PGSSLROOTCERT")):
        if option in url.options:
            env[var] = url.options[option]
    return env


def conn_args(url: DatabaseUrl) -> list[str]:
    args = ["--no-password"]
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    if url.user:
        args += ["--username", url.user]
    if url.database:
        args += ["--dbname", url.database]
    return args


def tar_directory(root: Path) -> Iterator[bytes]:
    """A POSIX tar stream of every file below ``root`` (names relative to it), read file by file."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        info = tarfile.TarInfo(path.relative_to(root).as_posix())
        info.size = path.stat().st_size
        info.mode = 0o600
        yield info.tobuf(format=tarfile.PAX_FORMAT)
        with open(path, "rb") as fh:
            while chunk := fh.read(READ_SIZE):
                yield chunk
        yield b"\0" * (-info.size % tarfile.BLOCKSIZE)
    yield b"\0" * (2 * tarfile.BLOCKSIZE)


@register_engine
class PostgresEngine(Engine):
    kind = EngineKind.POSTGRES
    dialect = Dialect.POSTGRESQL

    def tool_versions(self) -> dict[str, str]:
        return {"pg_dump": run_version(["pg_dump", "--version"])}

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(
                libpq_dsn(self.url), connect_timeout=10, application_name="flightdeck-backup"
            )
        except psycopg.Error as exc:
            raise BackupError(
                f"{self.url.where}: {self.url.clean(str(exc).strip().splitlines()[0])}"
            ) from None

    def _count(self, conn: psycopg.Connection[Any]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for schema, table in conn.execute(TABLES_SQL).fetchall():
            name = f"{schema}.{table}"
            if not self.wanted(name):
                continue
            query = sql.SQL("SELECT count(*) FROM {}.{}").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            row = conn.execute(query).fetchone()
            counts[name] = int(row[0]) if row else 0
        return counts

    @contextmanager
    def dump(self) -> Iterator[Dump]:
        versions = self.tool_versions()
        conn = self._connect()
        try:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            try:
                row = conn.execute(_POINT).fetchone()
                assert row is not None
                snapshot, standby, lsn, server_version = row
                point = {
                    "lsn": str(lsn),
                    "lsn_source": "replay" if standby else "current",
                    "snapshot": snapshot,
                }
                versions["server"] = f"PostgreSQL {server_version}"
                opts = self.config.postgres
                if opts.format is PgFormat.CUSTOM:
                    info = DumpInfo(versions, "pg_dump custom archive", "dump", point)
                else:
                    info = DumpInfo(versions, "tar of a pg_dump directory archive", "tar", point)
                info.table_counts = self._count(conn)
                self.describe_snapshot(conn, info)
            except psycopg.Error as exc:
                raise BackupError(f"{self.url.where}: {self.url.clean(str(exc).strip())}") from None
            base = ["pg_dump", *conn_args(self.url), f"--snapshot={snapshot}", "--compress=0"]
            env = tool_env(self.url)
            if opts.format is PgFormat.CUSTOM:
                yield Dump(info, stream_command([*base, "--format=custom"], env, self.url))
            else:
                yield Dump(info, self._directory(base, env, opts.jobs))
        finally:
            conn.close()  # ends the transaction and with it the exported snapshot

    def _directory(self, base: list[str], env: dict[str, str], jobs: int) -> Iterator[bytes]:
        tmp = Path(tempfile.mkdtemp(prefix="flightdeck-pgdump-"))
        try:
            target = tmp / "dump"
            argv = [*base, "--format=directory", f"--jobs={jobs}", f"--file={target}"]
            for _ in stream_command(argv, env, self.url):
                pass  # pg_dump writes the directory; nothing on stdout
            yield from tar_directory(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
