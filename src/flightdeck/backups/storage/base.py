"""Where backups live. A storage backend is one module registering a :class:`Storage` class.

Keys are ``/``-separated relative paths (``payments-db/20261123T060000Z-3f2a/data.dump.zst.enc``). A
backup is *complete* only when its ``manifest.json`` exists: it is always written last, so a backup
killed midway is never listed as complete.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["STORAGES", "PutResult", "Storage", "register_storage"]


@dataclass(frozen=True)
class PutResult:
    key: str
    size_bytes: int
    sha256: str  # hex digest of exactly the bytes stored


class Storage(ABC):
    """A place for artifacts. Implementations must make ``put`` atomic: a reader never sees a partial
    object under ``key`` (write to a temporary name, then rename / complete the upload)."""

    scheme: str = ""

    @abstractmethod
    def put(self, key: str, chunks: Iterable[bytes]) -> PutResult:
        """Store the stream; returns its size and SHA-256 as stored (verified by re-reading where the
        backend cannot vouch for it, e.g. S3 upload checked by size and checksum)."""

    @abstractmethod
    def get(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The stored bytes, streamed. Raises BackupError when the key does not exist."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Keys below ``prefix``, sorted."""

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def describe(self) -> str:
        """Where this is, for people (no credentials)."""


STORAGES: dict[str, type[Storage]] = {}


def register_storage(cls: type[Storage]) -> type[Storage]:
    STORAGES[cls.scheme] = cls
    return cls
