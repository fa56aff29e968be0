"""Backups in a local directory.

``put`` writes to a hidden temporary file next to the target (``.<name>.tmp-<random>``), fsyncs it,
renames it over the key with :func:`os.replace` and fsyncs the directory, so a key either holds a
complete object or does not exist — also across a crash or a ``SIGKILL``. Temporary files left by a
killed writer are never listed. Keys are ``/``-separated and may not climb out of the root.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from flightdeck.backups.errors import BackupError
from flightdeck.backups.storage.base import PutResult, Storage, register_storage

__all__ = ["LocalStorage"]

_TMP = ".tmp-"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@register_storage
class LocalStorage(Storage):
    scheme = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            raise BackupError(f"invalid storage key {key!r}")
        return self.root.joinpath(*parts)

    def put(self, key: str, chunks: Iterable[bytes]) -> PutResult:
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackupError(f"cannot create {target.parent}: {exc.strerror or exc}") from None
        tmp = target.with_name(f".{target.name}{_TMP}{secrets.token_hex(4)}")
        digest = hashlib.sha256()
        size = 0
        try:
            with open(tmp, "wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
            _fsync_dir(target.parent)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise BackupError(f"cannot write {target}: {exc.strerror or exc}") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return PutResult(key=key, size_bytes=size, sha256=digest.hexdigest())

    def get(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        path = self._path(key)
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed by the generator
        except FileNotFoundError:
            raise BackupError(f"{key}: no such object in {self.describe()}") from None
        except OSError as exc:
            raise BackupError(f"cannot read {path}: {exc.strerror or exc}") from None
        return self._chunks(fh, chunk_size)

    @staticmethod
    def _chunks(fh: BinaryIO, chunk_size: int) -> Iterator[bytes]:
        with fh:
            while chunk := fh.read(chunk_size):
                yield chunk

    def list(self, prefix: str = "") -> list[str]:
        if not self.root.is_dir():
            return []
        keys = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = Path(dirpath).relative_to(self.root)
            for name in filenames:
                if name.startswith("."):
                    continue  # temporary files of unfinished writes
                key = (rel / name).as_posix() if rel.parts else name
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def describe(self) -> str:
        return f"local directory {self.root}"
