"""SQLite: the online backup API into a temporary file, then that file streamed.

``sqlite3.Connection.backup`` copies the database page by page and restarts when another connection
writes meanwhile, so the copy is one consistent state even while the application writes. The row
counts are taken from the *copy*, so they are exactly the dump's. There is no log position to
record; the consistent point notes the page count and the library version does the rest.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from urllib.parse import quote

from flightdeck.backups.engines.base import Dump, DumpInfo, Engine, register_engine
from flightdeck.backups.engines.process import READ_SIZE
from flightdeck.backups.errors import BackupError
from flightdeck.backups.manifest import EngineKind
from flightdeck.datasources import Dialect

__all__ = ["SqliteEngine"]


@register_engine
class SqliteEngine(Engine):
    kind = EngineKind.SQLITE
    dialect = Dialect.SQLITE

    def tool_versions(self) -> dict[str, str]:
        return {"sqlite": sqlite3.sqlite_version, "python-sqlite3": "backup API"}

    def _copy(self, target: Path) -> None:
        assert self.url.path is not None
        source = Path(self.url.path).expanduser()
        if not source.is_file():
            raise BackupError(f"{source}: no such SQLite database file")
        try:
            uri = f"file:{quote(str(source.resolve()))}?mode=ro"
            with closing(sqlite3.connect(uri, uri=True)) as src, closing(sqlite3.connect(target)) as dst:
                src.backup(dst, pages=1024)
        except sqlite3.Error as exc:
            raise BackupError(f"{source}: SQLite backup failed: {exc}") from None

    def _count(self, copy: Path) -> tuple[dict[str, int], int]:
        with closing(sqlite3.connect(copy)) as conn:
            names = [
                str(r[0])
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                    "ORDER BY name"
                )
            ]
            counts = {}
            for name in names:
                if self.wanted(name):
                    quoted = '"' + name.replace('"', '""') + '"'
                    query = f"SELECT count(*) FROM {quoted}"  # noqa: S608 - a quoted identifier
                    counts[name] = int(conn.execute(query).fetchone()[0])
            pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        return counts, pages

    @contextmanager
    def dump(self) -> Iterator[Dump]:
        tmp = Path(tempfile.mkdtemp(prefix="flightdeck-sqlite-"))
        try:
            copy = tmp / "copy.sqlite"
            self._copy(copy)
            counts, pages = self._count(copy)
            info = DumpInfo(
                self.tool_versions(), "sqlite database file", "sqlite", {"pages": str(pages)}, counts
            )
            try:
                with closing(sqlite3.connect(copy)) as conn:
                    self.describe_snapshot(conn, info)
            except sqlite3.Error as exc:
                raise BackupError(f"{self.url.where}: {exc}") from None
            yield Dump(info, _read(copy))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _read(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(READ_SIZE):
            yield chunk
