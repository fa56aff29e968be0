"""What a backup engine is, and the registry of engines (one per datasource dialect).

An engine produces one :class:`Dump`: a stream of bytes (read by the pipeline in chunks, never held in
memory whole) plus :class:`DumpInfo` — tool versions, the consistent point and per-table row counts.
``Engine.dump`` is a context manager because the snapshot the counts were taken in must stay open
until the dump tool has finished reading it (PostgreSQL's exported snapshot).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from flightdeck.backups.manifest import EngineKind, TableHash
from flightdeck.config.backups import BackupConfig
from flightdeck.datasources import DatabaseUrl, Dialect

__all__ = ["ENGINES", "Dump", "DumpInfo", "Engine", "engine_for", "register_engine"]


@dataclass
class DumpInfo:
    """Facts about a dump. ``consistent_point`` may be completed while the stream is read (MariaDB
    writes its binlog coordinates into the dump's first lines)."""

    tool_versions: dict[str, str]
    content: str
    suffix: str
    consistent_point: dict[str, str] = field(default_factory=dict)
    table_counts: dict[str, int] = field(default_factory=dict)
    schema_objects: dict[str, list[str]] | None = None
    table_hashes: dict[str, TableHash] = field(default_factory=dict)


@dataclass
class Dump:
    info: DumpInfo
    chunks: Iterator[bytes]


class Engine(ABC):
    kind: ClassVar[EngineKind]
    dialect: ClassVar[Dialect]

    def __init__(self, url: DatabaseUrl, config: BackupConfig) -> None:
        self.url = url
        self.config = config

    @abstractmethod
    def tool_versions(self) -> dict[str, str]:
        """``{"pg_dump": "pg_dump (PostgreSQL) 15.4", "server": "15.4"}``."""

    @abstractmethod
    def dump(self) -> AbstractContextManager[Dump]:
        """Open the snapshot, count rows, start the dump; leaving the context releases everything."""

    def describe_snapshot(self, conn: Any, info: DumpInfo) -> None:
        """Record the schema objects and the declared tables' row hashes, read through ``conn``
        (which must be inside the dump's snapshot)."""
        from flightdeck.backups.inspect import hash_tables, schema_objects

        info.schema_objects = schema_objects(conn, self.dialect)
        info.table_hashes = hash_tables(conn, self.dialect, self.config.hash_tables)

    def wanted(self, table: str) -> bool:
        only = self.config.tables_to_count
        return only is None or table in only or table.split(".")[-1] in only


ENGINES: dict[Dialect, type[Engine]] = {}


def register_engine(cls: type[Engine]) -> type[Engine]:
    ENGINES[cls.dialect] = cls
    return cls


def engine_for(url: DatabaseUrl, config: BackupConfig) -> Engine:
    # Importing the package registers every engine.
    import flightdeck.backups.engines  # noqa: F401

    return ENGINES[url.dialect](url, config)
