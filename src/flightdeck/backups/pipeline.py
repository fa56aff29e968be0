"""engine stream → zstd → (AES-256-GCM) → storage, measured on the fly.

Nothing is held whole in memory: each stage is a generator over chunks. :class:`Meter` taps a stage
to count bytes (and hash them); the bytes handed to storage are hashed here *and* by the storage
backend, and the two digests must agree before the artifact is recorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import zstandard

from flightdeck.backups import crypto
from flightdeck.backups.errors import BackupError
from flightdeck.backups.storage.base import Storage

__all__ = ["Meter", "StoredArtifact", "compress", "decompress", "store_stream"]

Progress = Callable[[int], None]


class Meter:
    """Counts (and optionally hashes) the bytes that pass through ``tap``."""

    def __init__(self, hashing: bool = False, progress: Progress | None = None) -> None:
        self.bytes = 0
        self._hash = hashlib.sha256() if hashing else None
        self._progress = progress

    def tap(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.bytes += len(chunk)
            if self._hash is not None:
                self._hash.update(chunk)
            if self._progress is not None:
                self._progress(len(chunk))
            yield chunk

    @property
    def sha256(self) -> str:
        assert self._hash is not None
        return self._hash.hexdigest()


def compress(chunks: Iterable[bytes], level: int) -> Iterator[bytes]:
    cobj = zstandard.ZstdCompressor(level=level).compressobj()
    for chunk in chunks:
        out = cobj.compress(chunk)
        if out:
            yield out
    yield cobj.flush()


def decompress(chunks: Iterable[bytes]) -> Iterator[bytes]:
    dobj = zstandard.ZstdDecompressor().decompressobj()
    try:
        for chunk in chunks:
            out = dobj.decompress(chunk)
            if out:
                yield out
    except zstandard.ZstdError as exc:
        raise BackupError(f"the artifact does not decompress: {exc}") from None
    if not dobj.eof:
        raise BackupError("the artifact does not decompress: the zstd frame is incomplete")


@dataclass(frozen=True)
class StoredArtifact:
    key: str
    raw_size_bytes: int
    compressed_bytes: int
    size_bytes: int
    sha256: str


def store_stream(
    storage: Storage,
    key: str,
    chunks: Iterable[bytes],
    *,
    level: int,
    encryption_key: bytes | None,
    progress: Progress | None = None,
) -> StoredArtifact:
    raw = Meter(progress=progress)
    packed = Meter()
    stored = Meter(hashing=True)
    stream: Iterable[bytes] = packed.tap(compress(raw.tap(chunks), level))
    if encryption_key is not None:
        stream = crypto.encrypt_stream(stream, encryption_key)
    result = storage.put(key, stored.tap(stream))
    if (result.size_bytes, result.sha256) != (stored.bytes, stored.sha256):
        raise BackupError(f"{key}: storage reports a different size or SHA-256 than was written")
    return StoredArtifact(key, raw.bytes, packed.bytes, result.size_bytes, result.sha256)
