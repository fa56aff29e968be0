"""Canonical bytes of a ledger row, its hash, and the hash chain over rows.

A row is the configured columns in the configured order. Each value becomes one *field*::

    field = TAG LENGTH ":" PAYLOAD        LENGTH = decimal byte length of PAYLOAD (UTF-8)

    tag  value                           payload
    N    int, bool, Decimal, float       decimal numeral, normalized: no exponent, no trailing
                                         zeros, no "-0" (12.50 -> 12.5, 12.00 -> 12, True -> 1)
    S    str, UUID                       the text in Unicode NFC
    T    datetime                        UTC, ISO 8601 with microseconds: 2026-01-02T03:04:05.000006Z
                                         (a naive datetime is taken as UTC)
    D    date                            2026-01-02
    H    time                            03:04:05.000006
    B    bytes                           lowercase hex
    z    None                            empty (``z0:``)

and the row is the concatenation of its fields. Length prefixes make the encoding unambiguous
without any escaping, and normalizing numbers and times makes the same row read identically from
PostgreSQL (``numeric`` -> Decimal('12.50')), MariaDB (DECIMAL -> Decimal, DATETIME -> naive UTC) and
SQLite (12.5 stored as REAL or 12 as INTEGER): the driver's choice of Python type does not change the
bytes. Floats are read through their shortest repr (never used for arithmetic).

The chain costs one SHA-256 per row: ``chain_n = SHA-256(chain_{n-1} || canonical bytes of row n)``
(the previous value as its raw 32 bytes), starting from ``genesis = SHA-256("flightdeck-ledger:" +
ledger name)``. Each link can be checked on its own from the stored previous link and the row, which is
how verification names the first modified row without re-hashing anything twice. ``row_hash =
SHA-256(canonical bytes)`` is stored next to each link at anchoring time only; verification computes it
for a link that fails, to tell an edited row (its digest changed) from an edited chain link (it did
not).
"""

from __future__ import annotations

import hashlib
import unicodedata
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from flightdeck.payments.errors import LedgerError

__all__ = [
    "canonical_row",
    "chain_hash",
    "encode_value",
    "genesis",
    "key_text",
    "normalize_decimal",
    "row_hash",
]

_sha256 = hashlib.sha256


def normalize_decimal(value: Decimal) -> str:
    """``Decimal('12.50')`` -> ``"12.5"``, ``Decimal('1E+2')`` -> ``"100"``, ``-0.00`` -> ``"0"``."""
    if not value.is_finite():
        raise LedgerError(f"cannot hash a non-finite number ({value})")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        return "0"
    return text


def _field(tag: bytes, payload: bytes) -> bytes:
    return b"%s%d:%s" % (tag, len(payload), payload)


# One encoder per exact Python type (a dict lookup instead of a chain of isinstance checks: this runs
# once per value of every row verified).


def _int(value: int) -> bytes:
    text = b"%d" % value
    return b"N%d:%s" % (len(text), text)


def _str(value: str) -> bytes:
    if value.isascii():
        return b"S%d:%s" % (len(value), value.encode())
    data = unicodedata.normalize("NFC", value).encode()
    return b"S%d:%s" % (len(data), data)


def _decimal(value: Decimal) -> bytes:
    return _field(b"N", normalize_decimal(value).encode())


def _float(value: float) -> bytes:
    return _field(b"N", normalize_decimal(Decimal(repr(value))).encode())


def _bool(value: bool) -> bytes:
    return b"N1:1" if value else b"N1:0"


def _datetime(value: datetime) -> bytes:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return _field(b"T", (value.isoformat(timespec="microseconds") + "Z").encode())


def _date(value: date) -> bytes:
    return _field(b"D", value.isoformat().encode())


def _time(value: time) -> bytes:
    return _field(b"H", value.replace(tzinfo=None).isoformat(timespec="microseconds").encode())


def _bytes(value: bytes | bytearray | memoryview) -> bytes:
    return _field(b"B", bytes(value).hex().encode())


def _none(_: None) -> bytes:
    return b"z0:"


def _uuid(value: uuid.UUID) -> bytes:
    return b"S36:%s" % str(value).encode()


_ENCODERS: dict[type, Callable[[Any], bytes]] = {
    int: _int,
    str: _str,
    Decimal: _decimal,
    datetime: _datetime,
    type(None): _none,
    bool: _bool,
    float: _float,
    date: _date,
    time: _time,
    bytes: _bytes,
    bytearray: _bytes,
    memoryview: _bytes,
    uuid.UUID: _uuid,
}
_BASES = (bool, int, str, Decimal, float, datetime, date, time, bytes, bytearray, memoryview, uuid.UUID)


def encode_value(value: object) -> bytes:
    """The canonical field of one value (see the module documentation)."""
    encoder = _ENCODERS.get(type(value))
    if encoder is None:  # a subclass (an int enum, a driver's str subclass): encode as its base type
        base = next((b for b in _BASES if isinstance(value, b)), None)
        if base is None:
            raise LedgerError(f"cannot hash a value of type {type(value).__name__} in a ledger row")
        encoder = _ENCODERS[base]
    return encoder(value)


def canonical_row(values: Iterable[object]) -> bytes:
    get = _ENCODERS.get
    return b"".join([(get(type(v)) or encode_value)(v) for v in values])


def row_hash(values: Iterable[object]) -> bytes:
    """SHA-256 (32 raw bytes) of a row's canonical bytes."""
    get = _ENCODERS.get
    return _sha256(b"".join([(get(type(v)) or encode_value)(v) for v in values])).digest()


def chain_hash(previous: bytes, canonical: bytes) -> bytes:
    """The next chain value: SHA-256 of the previous 32-byte value followed by a row's canonical bytes."""
    return _sha256(previous + canonical).digest()


def genesis(ledger: str) -> bytes:
    """The chain value before the first row: SHA-256 of ``flightdeck-ledger:<name>``."""
    return _sha256(b"flightdeck-ledger:" + ledger.encode()).digest()


def key_text(value: object) -> str:
    """How a row's key is stored in the chain (``ledger_chain.row_key``)."""
    if isinstance(value, bool) or value is None:
        raise LedgerError(f"a ledger key cannot be {value!r}")
    if isinstance(value, bytes):
        return value.hex()
    return str(value)
