"""Signed checkpoints of a ledger's chain: the document, Ed25519 keys, signing and checking.

A checkpoint states "the chain of ledger L had ``seq`` links ending at row ``last_key`` with chain
hash H at time T". Its *document* is canonical JSON (sorted keys, no spaces, ASCII)::

    {"chain_hash":"<64 hex>","created_at":"2026-01-02T03:04:05.000000Z","key_id":"<16 hex>",
     "last_key":"1234","ledger":"main","seq":1234,"version":1}

signed with Ed25519. ``key_id`` is the first 16 hex digits of SHA-256 of the raw 32-byte public key,
so a checkpoint names the key that signed it. The private key comes only from configuration
(``signing_key`` or ``signing_key_file``, PEM PKCS#8); it is never logged, exported or put in a result.
Verification uses the public half of the configured key (or ``public_key_file``), never a public key
found next to the checkpoints: whoever can rewrite the checkpoints could replace that one too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from flightdeck.config.payments import LedgerConfig
from flightdeck.payments.errors import LedgerError
from flightdeck.secret import Secret

__all__ = [
    "Checkpoint",
    "SignedCheckpoint",
    "generate_keypair",
    "key_id",
    "load_private_key",
    "load_public_key",
    "public_pem",
    "sign_checkpoint",
    "signature_valid",
    "trusted_public_key",
]

VERSION = 1


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private_key(secret: Secret) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(secret.reveal().encode(), password=None)
    except (ValueError, TypeError):
        raise LedgerError("signing_key is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise LedgerError("signing_key is not an Ed25519 key")
    return key


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError):
        raise LedgerError("not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise LedgerError("the public key is not an Ed25519 key")
    return key


def generate_keypair(out_dir: Path, name: str = "ledger-signing") -> tuple[Path, Path]:
    """Write ``<name>.key`` (PKCS#8 PEM, mode 0600) and ``<name>.pub`` into ``out_dir``; refuses to
    overwrite an existing key."""
    out_dir.mkdir(parents=True, exist_ok=True)
    private_path, public_path = out_dir / f"{name}.key", out_dir / f"{name}.pub"
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise LedgerError(f"{private_path} exists; not overwriting a signing key") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    os.chmod(private_path, 0o600)
    public_path.write_bytes(public_pem(key.public_key()))
    return private_path, public_path


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


@dataclass(frozen=True)
class Checkpoint:
    ledger: str
    seq: int
    last_key: str | None
    chain_hash: str  # hex
    created_at: datetime
    key_id: str

    def document(self) -> bytes:
        doc = {
            "chain_hash": self.chain_hash,
            "created_at": _utc_text(self.created_at),
            "key_id": self.key_id,
            "last_key": self.last_key,
            "ledger": self.ledger,
            "seq": self.seq,
            "version": VERSION,
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


@dataclass(frozen=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    signature: str  # base64

    def to_json(self) -> bytes:
        body = {
            "checkpoint": json.loads(self.checkpoint.document()),
            "algorithm": "Ed25519",
            "signature": self.signature,
        }
        return json.dumps(body, indent=2, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes, where: str) -> SignedCheckpoint:
        try:
            body = json.loads(data)
            doc = body["checkpoint"]
            created = datetime.fromisoformat(str(doc["created_at"]).replace("Z", "+00:00"))
            checkpoint = Checkpoint(
                ledger=str(doc["ledger"]),
                seq=int(doc["seq"]),
                last_key=None if doc["last_key"] is None else str(doc["last_key"]),
                chain_hash=str(doc["chain_hash"]),
                created_at=created,
                key_id=str(doc["key_id"]),
            )
            if int(doc.get("version", 0)) != VERSION:
                raise ValueError(f"unknown version {doc.get('version')}")
            return cls(checkpoint, str(body["signature"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise LedgerError(f"{where}: not a checkpoint file ({exc})") from None


def sign_checkpoint(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> SignedCheckpoint:
    signature = key.sign(checkpoint.document())
    return SignedCheckpoint(checkpoint, base64.b64encode(signature).decode())


def signature_valid(signed: SignedCheckpoint, public: Ed25519PublicKey) -> bool:
    """The signature is valid for the document under ``public`` (and names that key)."""
    if signed.checkpoint.key_id != key_id(public):
        return False
    try:
        public.verify(base64.b64decode(signed.signature, validate=True), signed.checkpoint.document())
    except (InvalidSignature, ValueError):
        return False
    return True


def trusted_public_key(cfg: LedgerConfig) -> Ed25519PublicKey | None:
    """The key checkpoints must be signed with: the signing key's public half, or ``public_key_file``
    (a verifier that cannot sign); ``None`` when neither is configured."""
    if cfg.signing_key is not None:
        return load_private_key(cfg.signing_key).public_key()
    if cfg.public_key_file is not None:
        try:
            return load_public_key(cfg.public_key_file.read_bytes())
        except OSError as exc:
            raise LedgerError(f"public_key_file {cfg.public_key_file}: {exc.strerror or exc}") from None
    return None
