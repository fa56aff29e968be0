"""The manifest: what a backup holds and how to check it, written LAST as ``manifest.json``.

A backup directory ``<backup name>/<backup id>/`` holds its artifacts and, once every artifact has
been stored and checksummed, ``manifest.json``. Its presence is what makes a backup *complete*: the
catalog lists nothing else, so a backup killed midway is never offered for restore.

The manifest never holds a secret: the source is described as ``user@host:port/db`` and encryption
by the key id only.
"""

from __future__ import annotations

import enum
import json
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flightdeck import __version__
from flightdeck.backups.errors import BackupError

__all__ = [
    "MANIFEST_NAME",
    "ArtifactRecord",
    "Compression",
    "EngineKind",
    "Manifest",
    "TableHash",
    "manifest_key",
]

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1


class EngineKind(enum.StrEnum):
    POSTGRES = "postgres"
    MYSQL = "mysql"
    SQLITE = "sqlite"


class Compression(enum.StrEnum):
    ZSTD = "zstd"


class ArtifactRecord(BaseModel):
    """One stored file of a backup. ``size_bytes`` and ``sha256`` are of the bytes as stored
    (compressed, then encrypted); ``raw_size_bytes`` is the dump's size before compression."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    key: str
    size_bytes: int
    sha256: str
    raw_size_bytes: int
    content: str = Field(description="what the decoded bytes are: pg_dump custom, tar, sql, sqlite")
    compression: Compression = Compression.ZSTD
    compression_level: int
    encryption: str | None = None
    key_id: str | None = None


class TableHash(BaseModel):
    """SHA-256 over one table's rows in ``order_by`` order (see :mod:`flightdeck.backups.inspect`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rows: int
    sha256: str
    order_by: list[str]


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: int = FORMAT_VERSION
    backup_id: str
    name: str
    service: str
    datasource: str
    source: str = Field(description="the database, described without credentials")
    engine: EngineKind
    tool_versions: dict[str, str]
    started_at: datetime
    finished_at: datetime
    consistent_point: dict[str, str] = Field(default_factory=dict)
    table_counts: dict[str, int] = Field(default_factory=dict)
    schema_objects: dict[str, list[str]] | None = Field(
        default=None, description="schema objects by kind, taken in the dump's snapshot"
    )
    table_hashes: dict[str, TableHash] = Field(
        default_factory=dict, description="row hashes of the tables declared in hash_tables"
    )
    artifacts: list[ArtifactRecord]
    flightdeck_version: str = __version__

    def to_bytes(self) -> bytes:
        return (json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes, where: str = "manifest") -> Manifest:
        try:
            return cls.model_validate_json(data)
        except ValidationError as exc:
            raise BackupError(
                f"{where}: not a valid backup manifest ({exc.error_count()} problems)"
            ) from None

    def artifact(self, name: str) -> ArtifactRecord:
        for a in self.artifacts:
            if a.name == name:
                return a
        raise BackupError(f"backup {self.backup_id} has no artifact named {name!r}")

    @property
    def total_rows(self) -> int:
        return sum(self.table_counts.values())


def manifest_key(name: str, backup_id: str) -> str:
    return f"{name}/{backup_id}/{MANIFEST_NAME}"
