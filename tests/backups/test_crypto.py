from __future__ import annotations

import os
import struct

import pytest

from flightdeck.backups.crypto import decrypt_stream, encrypt_stream
from flightdeck.backups.errors import DecryptionError

KEY = os.urandom(32)
HEADER = 28


def records(blob: bytes) -> tuple[bytes, list[bytes]]:
    header, rest, out = blob[:HEADER], blob[HEADER:], []
    while rest:
        (n,) = struct.unpack(">I", rest[:4])
        out.append(rest[: 4 + n])
        rest = rest[4 + n :]
    return header, out


def seal(data: bytes, chunk_size: int = 100) -> bytes:
    return b"".join(encrypt_stream([data[i : i + 37] for i in range(0, len(data), 37)], KEY, chunk_size))


@pytest.mark.parametrize("size", [0, 1, 99, 100, 101, 1000])
def test_round_trip_of_any_length(size: int) -> None:
    data = os.urandom(size)
    blob = seal(data)
    assert b"".join(decrypt_stream([blob[i : i + 13] for i in range(0, len(blob), 13)], KEY)) == data


def test_wrong_key_is_named_as_such() -> None:
    blob = seal(b"x" * 500)
    with pytest.raises(DecryptionError, match="wrong key: the artifact was encrypted with key id"):
        list(decrypt_stream([blob], os.urandom(32)))


def test_flipped_byte_fails() -> None:
    blob = bytearray(seal(b"x" * 500))
    blob[HEADER + 10] ^= 1
    with pytest.raises(DecryptionError, match="does not authenticate"):
        list(decrypt_stream([bytes(blob)], KEY))


def test_reordered_chunks_fail() -> None:
    header, recs = records(seal(os.urandom(500)))
    recs[0], recs[1] = recs[1], recs[0]
    with pytest.raises(DecryptionError, match="chunk 0 does not authenticate"):
        list(decrypt_stream([header, *recs], KEY))


def test_truncation_at_a_chunk_boundary_fails() -> None:
    header, recs = records(seal(os.urandom(450)))
    assert len(recs) == 5
    produced: list[bytes] = []
    with pytest.raises(
        DecryptionError, match="chunk 3 does not authenticate: the stream was tampered or truncated"
    ):
        produced.extend(decrypt_stream([header, *recs[:4]], KEY))
    assert len(produced) == 3  # the chunks before the cut authenticate; the stream as a whole does not


def test_truncation_inside_a_chunk_and_trailing_data_fail() -> None:
    blob = seal(os.urandom(500))
    with pytest.raises(DecryptionError, match="truncated inside a chunk"):
        list(decrypt_stream([blob[:-5]], KEY))
    header, recs = records(blob)
    with pytest.raises(DecryptionError, match="does not authenticate"):
        list(decrypt_stream([header, *recs, recs[-1]], KEY))


def test_a_changed_header_fails() -> None:
    blob = bytearray(seal(os.urandom(50)))
    blob[HEADER - 1] ^= 1  # the nonce prefix
    with pytest.raises(DecryptionError):
        list(decrypt_stream([bytes(blob)], KEY))
    with pytest.raises(DecryptionError, match="bad magic"):
        list(decrypt_stream([b"PK\x03\x04" + bytes(40)], KEY))
