"""Chunked AES-256-GCM: authenticated encryption of a stream of any length, in constant memory.

Stream format (all integers big-endian)::

    header   magic "FDBKENC" (7) | version u8 = 1 | key id (8 bytes) | chunk size u32 | nonce prefix (8)
    record*  ciphertext length u32 | ciphertext (plaintext chunk + 16-byte GCM tag)

Every plaintext chunk is ``chunk size`` bytes except the last (which may be shorter, or empty for an
empty stream). Chunk ``i`` is sealed with

- nonce = nonce prefix (8 random bytes, fresh per stream) | ``i`` as u32 — never reused under one key
  (a stream holds at most 2**32 chunks; the random prefix separates streams);
- AAD = the whole header | ``i`` as u64 | final flag u8 (1 on the last chunk, else 0).

So a changed header (key id, chunk size) fails every chunk; swapping or dropping chunks fails because
the index is authenticated; cutting the stream after a whole chunk fails because that chunk was not
sealed as final; data after the final chunk is refused. The key id (first 16 hex digits of SHA-256 of
the key) lets a wrong key be reported as such before any decryption is attempted.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from flightdeck.backups.errors import DecryptionError
from flightdeck.config.backups import key_id_of

__all__ = ["ALGORITHM", "CHUNK_SIZE", "MAGIC", "decrypt_stream", "encrypt_stream"]

ALGORITHM = "aes-256-gcm-chunked-v1"
MAGIC = b"FDBKENC"
VERSION = 1
CHUNK_SIZE = 1 << 20
_HEADER = struct.Struct(">7sB8sI8s")
_LEN = struct.Struct(">I")
_TAG = 16
_MAX_CHUNKS = 1 << 32


def _aad(header: bytes, index: int, final: bool) -> bytes:
    return header + struct.pack(">QB", index, 1 if final else 0)


def _nonce(prefix: bytes, index: int) -> bytes:
    if index >= _MAX_CHUNKS:
        raise DecryptionError("stream too long for one nonce prefix (more than 2**32 chunks)")
    return prefix + struct.pack(">I", index)


def _rechunk(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
    yield bytes(buf)  # the last chunk; possibly empty, so there is always a final chunk


def encrypt_stream(chunks: Iterable[bytes], key: bytes, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Encrypt ``chunks`` (any sizes) into the format above."""
    if len(key) != 32:
        raise ValueError("AES-256 needs a 32-byte key")
    aes = AESGCM(key)
    prefix = os.urandom(8)
    header = _HEADER.pack(MAGIC, VERSION, bytes.fromhex(key_id_of(key)), chunk_size, prefix)
    yield header
    pending: bytes | None = None
    index = 0
    for plain in _rechunk(chunks, chunk_size):
        if pending is not None:  # one chunk of look-ahead: only now do we know it was not the last
            sealed = aes.encrypt(_nonce(prefix, index), pending, _aad(header, index, False))
            yield _LEN.pack(len(sealed)) + sealed
            index += 1
        pending = plain
    assert pending is not None
    sealed = aes.encrypt(_nonce(prefix, index), pending, _aad(header, index, True))
    yield _LEN.pack(len(sealed)) + sealed


class _Reader:
    """Exact-size reads over an iterable of byte chunks."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it = iter(chunks)
        self._buf = bytearray()

    def read(self, n: int) -> bytes:
        while len(self._buf) < n:
            more = next(self._it, None)
            if more is None:
                break
            self._buf += more
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out


def decrypt_stream(chunks: Iterable[bytes], key: bytes) -> Iterator[bytes]:
    """Decrypt and authenticate; raises :class:`DecryptionError` on a wrong key, a tampered, reordered
    or truncated stream. Chunks are yielded only once they have authenticated."""
    reader = _Reader(chunks)
    header = reader.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise DecryptionError("not an encrypted backup stream: shorter than its header")
    magic, version, key_id, chunk_size, prefix = _HEADER.unpack(header)
    if magic != MAGIC:
        raise DecryptionError("not an encrypted backup stream (bad magic)")
    if version != VERSION:
        raise DecryptionError(f"unsupported encrypted stream version {version}")
    wanted = key_id_of(key)
    if key_id.hex() != wanted:
        raise DecryptionError(
            f"wrong key: the artifact was encrypted with key id {key_id.hex()}, the key given has id {wanted}"
        )
    aes = AESGCM(key)
    index = 0
    record = _read_record(reader, chunk_size)
    if record is None:
        raise DecryptionError("encrypted stream truncated: no chunk after the header")
    while True:
        following = _read_record(reader, chunk_size)
        final = following is None
        try:
            plain = aes.decrypt(_nonce(prefix, index), record, _aad(header, index, final))
        except InvalidTag:
            what = "tampered or truncated" if final else "tampered or reordered"
            raise DecryptionError(
                f"encrypted chunk {index} does not authenticate: the stream was {what}"
            ) from None
        yield plain
        if following is None:
            return
        record = following
        index += 1


def _read_record(reader: _Reader, chunk_size: int) -> bytes | None:
    head = reader.read(_LEN.size)
    if not head:
        return None
    if len(head) < _LEN.size:
        raise DecryptionError("encrypted stream truncated inside a chunk length")
    (length,) = _LEN.unpack(head)
    if length < _TAG or length > chunk_size + _TAG:
        raise DecryptionError(f"encrypted stream corrupt: impossible chunk length {length}")
    body = reader.read(length)
    if len(body) < length:
        raise DecryptionError("encrypted stream truncated inside a chunk")
    return body
