"""Checking a backup against its manifest, and reading it back — never before the check passed.

:func:`verify_artifact` re-reads an artifact and compares size and SHA-256 with the manifest.
:func:`open_artifact` first copies the stored bytes to a private temporary file while hashing them,
compares, and only then decrypts and decompresses *that file* — so what is decoded is exactly what
was verified (no second read that could differ), and an artifact with one flipped byte yields nothing
at all: :class:`IntegrityError` is raised before the first byte is produced.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from flightdeck.backups import crypto
from flightdeck.backups.errors import BackupError, IntegrityError
from flightdeck.backups.manifest import ArtifactRecord, Manifest
from flightdeck.backups.pipeline import decompress
from flightdeck.backups.storage.base import Storage

__all__ = [
    "VerifyResult",
    "decode_chunks",
    "fetch_artifact",
    "file_chunks",
    "open_artifact",
    "verify_artifact",
    "verify_backup",
]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class VerifyResult:
    backup_id: str
    artifacts: int
    bytes_checked: int
    decoded: bool  # also decrypted and decompressed end to end


def _check(artifact: ArtifactRecord, size: int, digest: str) -> None:
    if size != artifact.size_bytes:
        raise IntegrityError(
            f"artifact {artifact.name} ({artifact.key}): size {size} bytes, "
            f"manifest says {artifact.size_bytes}"
        )
    if digest != artifact.sha256:
        raise IntegrityError(
            f"artifact {artifact.name} ({artifact.key}): SHA-256 {digest} does not match the manifest's "
            f"{artifact.sha256}; the artifact is corrupt or was changed"
        )


def verify_artifact(storage: Storage, artifact: ArtifactRecord) -> int:
    h = hashlib.sha256()
    size = 0
    for chunk in storage.get(artifact.key):
        h.update(chunk)
        size += len(chunk)
    _check(artifact, size, h.hexdigest())
    return size


def fetch_artifact(
    storage: Storage, artifact: ArtifactRecord, out: BinaryIO, progress: Callable[[int], None] | None = None
) -> int:
    """Copy the stored bytes into ``out`` while hashing them; :class:`IntegrityError` unless size and
    SHA-256 match the manifest. Returns the size."""
    h = hashlib.sha256()
    size = 0
    for chunk in storage.get(artifact.key):
        out.write(chunk)
        h.update(chunk)
        size += len(chunk)
        if progress is not None:
            progress(len(chunk))
    _check(artifact, size, h.hexdigest())
    return size


def decode_chunks(artifact: ArtifactRecord, chunks: Iterable[bytes], key: bytes | None) -> Iterator[bytes]:
    """Decrypt (when the artifact is encrypted) and decompress stored bytes."""
    if artifact.encryption is not None:
        if key is None:
            raise BackupError(
                f"artifact {artifact.name} is encrypted (key id {artifact.key_id}); give its key"
            )
        chunks = crypto.decrypt_stream(chunks, key)
    return decompress(chunks)


def file_chunks(fh: BinaryIO) -> Iterator[bytes]:
    while chunk := fh.read(_CHUNK):
        yield chunk


@contextmanager
def open_artifact(
    storage: Storage, manifest: Manifest, name: str, key: bytes | None = None
) -> Iterator[Iterator[bytes]]:
    """``with open_artifact(...) as chunks:`` — the decoded dump, available only once verified."""
    artifact = manifest.artifact(name)
    with tempfile.TemporaryFile(prefix="flightdeck-verify-") as spool:
        fetch_artifact(storage, artifact, spool)
        spool.seek(0)
        yield decode_chunks(artifact, file_chunks(spool), key)


def verify_backup(
    storage: Storage, manifest: Manifest, key: bytes | None = None, deep: bool = False
) -> VerifyResult:
    """Every artifact's size and SHA-256; with ``deep``, also decrypt and decompress each end to end
    (proves the key and the zstd frame, not only the bytes)."""
    total = 0
    for artifact in manifest.artifacts:
        if deep:
            with open_artifact(storage, manifest, artifact.name, key) as chunks:
                for _ in chunks:
                    pass
            total += artifact.size_bytes
        else:
            total += verify_artifact(storage, artifact)
    return VerifyResult(manifest.backup_id, len(manifest.artifacts), total, deep)
