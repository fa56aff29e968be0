"""MySQL / MariaDB: ``mariadb-dump`` (or ``mysqldump``) with ``--single-transaction``.

The dump tool runs in one ``REPEATABLE READ`` transaction started ``WITH CONSISTENT SNAPSHOT``, so
InnoDB tables are dumped as of one instant without locking writers (MyISAM and other non-transactional
tables are not covered by that guarantee).

Consistent point: when the binary log is on (``SHOW MASTER STATUS`` returns a row), the tool also
gets ``--master-data=2`` and writes the binlog file/position of its snapshot as a comment near the
top of the dump; the stream is scanned for it on the way through and the coordinates recorded. With
the binlog off there is no position to record and none is claimed.

Row counts — the exactness limit, stated plainly: the counts are taken by flightdeck's own
connection in its own consistent-snapshot transaction, opened just before the dump tool starts. Two
snapshots, not one: a transaction committed between the two is in the dump but not in the counts.
On MariaDB the counting snapshot's binlog position (``binlog_snapshot_file``/``_position``) is
recorded as ``counts_binlog_*``; when it equals the dump's position the counts are exact for the
dump, and ``counts_exact`` says ``true``. Without a binlog ``counts_exact`` is ``unknown``. A DR drill
should compare counts with this in mind (exact on a quiet source, approximate on a busy one).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pymysql

from flightdeck.backups.engines.base import Dump, DumpInfo, Engine, register_engine
from flightdeck.backups.engines.process import run_version, stream_command
from flightdeck.backups.errors import BackupError
from flightdeck.backups.manifest import EngineKind
from flightdeck.datasources import DatabaseUrl, Dialect

__all__ = ["MysqlEngine", "conn_args", "dump_tool"]

_CHANGE_MASTER = re.compile(rb"CHANGE MASTER TO MASTER_LOG_FILE='([^']+)', MASTER_LOG_POS=(\d+)")
_GTID = re.compile(rb"gtid_slave_pos='([^']*)'")
_SCAN_LIMIT = 1 << 16


def dump_tool() -> str:
    for name in ("mariadb-dump", "mysqldump"):
        if shutil.which(name):
            return name
    raise BackupError("neither mariadb-dump nor mysqldump is installed (not found on PATH)")


def conn_args(url: DatabaseUrl) -> list[str]:
    args = [f"--user={url.user or 'root'}"]
    if "unix_socket" in url.options:
        args.append(f"--socket={url.options['unix_socket']}")
    else:
        args += [f"--host={url.host or 'localhost'}", f"--port={url.port or 3306}", "--protocol=TCP"]
    return args


@register_engine
class MysqlEngine(Engine):
    kind = EngineKind.MYSQL
    dialect = Dialect.MYSQL

    def tool_versions(self) -> dict[str, str]:
        tool = dump_tool()
        return {tool: run_version([tool, "--version"])}

    def _connect(self) -> Any:
        url = self.url
        try:
            return pymysql.connect(
                host=url.host or "localhost",
                port=url.port or 3306,
                user=url.user or "root",
                password=url.password.reveal() if url.password else "",
                database=url.database,
                unix_socket=url.options.get("unix_socket"),
                connect_timeout=10,
                charset="utf8mb4",
            )
        except pymysql.err.MySQLError as exc:
            raise BackupError(f"{url.where}: {url.clean(str(exc))}") from None

    def _snapshot(self, info: DumpInfo) -> tuple[str, bool]:
        """Server version and whether the binlog is on; fills ``info`` with the counting snapshot's
        binlog point, the row counts, the schema objects and the declared tables' row hashes."""
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT VERSION()")
                version = str(cur.fetchone()[0])
                try:
                    cur.execute("SHOW MASTER STATUS")
                    binlog_on = cur.fetchone() is not None
                except pymysql.err.MySQLError:
                    binlog_on = False  # no privilege to ask: do not claim a position
                cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                point: dict[str, str] = {}
                if binlog_on and "mariadb" in version.lower():
                    cur.execute("SHOW STATUS LIKE 'binlog_snapshot_%'")
                    for name, value in cur.fetchall():
                        point[f"counts_{str(name).lower().replace('binlog_snapshot_', 'binlog_')}"] = str(
                            value
                        )
                cur.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name"
                )
                tables = [str(r[0]) for r in cur.fetchall()]
                counts: dict[str, int] = {}
                for table in tables:
                    if self.wanted(table):
                        cur.execute(f"SELECT COUNT(*) FROM `{table.replace('`', '``')}`")  # noqa: S608 - quoted name
                        counts[table] = int(cur.fetchone()[0])
                info.consistent_point.update(point)
                info.table_counts = counts
                self.describe_snapshot(conn, info)
                conn.rollback()
        except pymysql.err.MySQLError as exc:
            raise BackupError(f"{self.url.where}: {self.url.clean(str(exc))}") from None
        finally:
            conn.close()
        return version, binlog_on

    @contextmanager
    def dump(self) -> Iterator[Dump]:
        if not self.url.database:
            raise BackupError("a MySQL/MariaDB backup needs a database name in the datasource URL")
        versions = self.tool_versions()
        tool = next(iter(versions))
        info = DumpInfo(versions, "sql", "sql")
        versions["server"], binlog_on = self._snapshot(info)
        argv = [
            tool,
            *conn_args(self.url),
            "--single-transaction",
            "--quick",
            "--routines",
            "--triggers",
            "--hex-blob",
            "--no-tablespaces",
            "--default-character-set=utf8mb4",
        ]
        if binlog_on:
            argv.append("--master-data=2")
        argv.append(self.url.database)
        env = {"MYSQL_PWD": self.url.password.reveal()} if self.url.password else {}
        yield Dump(info, self._scan(stream_command(argv, env, self.url), info, binlog_on))

    @staticmethod
    def _scan(chunks: Iterator[bytes], info: DumpInfo, binlog_on: bool) -> Iterator[bytes]:
        """Pass the stream through, picking the dump's binlog coordinates from its first bytes."""
        head = b""
        for chunk in chunks:
            if len(head) < _SCAN_LIMIT:
                head += chunk[: _SCAN_LIMIT - len(head)]
            yield chunk
        point = info.consistent_point
        if m := _CHANGE_MASTER.search(head):
            point["binlog_file"], point["binlog_position"] = m.group(1).decode(), m.group(2).decode()
        if m := _GTID.search(head):
            point["gtid"] = m.group(1).decode()
        if "binlog_file" in point and "counts_binlog_file" in point:
            same = (point["binlog_file"], point["binlog_position"]) == (
                point["counts_binlog_file"],
                point.get("counts_binlog_position"),
            )
            point["counts_exact"] = "true" if same else "false"
        else:
            point["counts_exact"] = "unknown"
        if not binlog_on:
            point["binlog"] = "off"
