"""Configuration of backups: what to dump, how to compress and encrypt it, where to keep it.

One :class:`BackupConfig` per named backup (``backups.NAME``). The engine follows the datasource's
dialect (PostgreSQL → ``pg_dump``, MySQL/MariaDB → ``mariadb-dump``/``mysqldump``, SQLite → the online
backup API); :class:`PostgresBackupOptions` tunes ``pg_dump``.

Encryption key
    ``encryption.key`` is **32 random bytes**, written as 64 hex digits or as base64 (``openssl rand
    -base64 32``). A passphrase is deliberately not accepted: a key derived from a human-chosen phrase
    is weaker than the random key the format assumes, and a KDF would add parameters to keep forever.
    Give it from the environment (``key: ${BACKUP_KEY}``) or a file (``key_file: /run/secrets/k``).
    Only :attr:`EncryptionConfig.key_id` — the first 16 hex digits of the SHA-256 of the key bytes —
    is ever written anywhere (the encrypted stream's header and the manifest); the key never is.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import re
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from flightdeck.config.backup_retention import RetentionPolicy
from flightdeck.config.backup_storage import S3StorageConfig
from flightdeck.config.base import ConfigModel
from flightdeck.config.types import Name, RelPath
from flightdeck.secret import Secret

__all__ = [
    "BackupConfig",
    "EncryptionConfig",
    "LocalStorageConfig",
    "PgFormat",
    "PostgresBackupOptions",
    "decode_key",
    "key_id_of",
]

KEY_BYTES = 32
_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


def decode_key(text: str) -> bytes:
    """The 32 key bytes from 64 hex digits or base64; ``ValueError`` (never quoting the key) otherwise."""
    text = text.strip()
    if _HEX.match(text):
        return bytes.fromhex(text)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise ValueError(
            "must be 32 random bytes written as 64 hex digits or base64 (openssl rand -base64 32)"
        )
    return raw


def key_id_of(key: bytes) -> str:
    """First 16 hex digits of SHA-256(key): names a key without revealing it."""
    return hashlib.sha256(key).hexdigest()[:16]


class PgFormat(enum.StrEnum):
    CUSTOM = "custom"
    DIRECTORY = "directory"


class PostgresBackupOptions(ConfigModel):
    """``pg_dump`` options. ``directory`` format allows ``jobs`` > 1 (parallel dump); the directory is
    packed into one tar stream before compression."""

    format: PgFormat = PgFormat.CUSTOM
    jobs: int = Field(1, ge=1, le=64)

    @model_validator(mode="after")
    def _jobs_need_directory(self) -> PostgresBackupOptions:
        if self.jobs > 1 and self.format is not PgFormat.DIRECTORY:
            raise ValueError(
                "jobs > 1 needs format: directory (pg_dump dumps in parallel only to a directory)"
            )
        return self


class EncryptionConfig(ConfigModel):
    """Authenticated encryption of every artifact (chunked AES-256-GCM)."""

    # A rejected key must not be echoed back in the validation error.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, hide_input_in_errors=True)

    key: Secret

    @field_validator("key")
    @classmethod
    def _decodable(cls, value: Secret) -> Secret:
        decode_key(value.reveal())
        return value

    @property
    def key_bytes(self) -> bytes:
        return decode_key(self.key.reveal())

    @property
    def key_id(self) -> str:
        return key_id_of(self.key_bytes)


class LocalStorageConfig(ConfigModel):
    """A local directory (relative paths are relative to the configuration file)."""

    kind: Literal["local"] = "local"
    path: RelPath


class BackupConfig(ConfigModel):
    """One named backup of one datasource."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, hide_input_in_errors=True)

    service: Name
    datasource: Name
    postgres: PostgresBackupOptions = PostgresBackupOptions()
    compression_level: int = Field(3, ge=1, le=22, description="zstd level, 1 (fast) to 22 (small)")
    encryption: EncryptionConfig | None = None
    storage: LocalStorageConfig | S3StorageConfig = Field(
        description="kind: local (path) or s3 (bucket, ...)"
    )
    retention: RetentionPolicy | None = Field(
        default=None, description="What `flightdeck backup prune` keeps (restic's calendar buckets)"
    )
    tables_to_count: list[str] | None = Field(
        None, description="tables whose rows are counted in the dump's snapshot; default: all tables"
    )
    hash_tables: list[str] = Field(
        default_factory=list,
        description="tables whose rows are hashed in key order in the dump's snapshot, for a DR drill "
        "to compare row by row (PostgreSQL: schema.table, default schema public)",
    )

    @property
    def encryption_key(self) -> bytes | None:
        """The 32 key bytes, or ``None`` for unencrypted backups."""
        return self.encryption.key_bytes if self.encryption is not None else None
