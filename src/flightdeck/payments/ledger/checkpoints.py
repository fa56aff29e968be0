"""Checking signed checkpoints against the verified stored chain.

Every checkpoint looked at (the newest in each export place, the newest in the store) ends in one
:class:`CheckpointState`. A checkpoint is trusted only when its Ed25519 signature verifies under the
configured key *and* it names the same chain hash and last key as the stored chain at its seq (every
link of which verification has checked against its row and the link before). States that mean
tampering (or lost evidence) are ``failed``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from flightdeck.payments.ledger.chainstore import StoredCheckpoint
from flightdeck.payments.ledger.export import CheckpointExport, ExportedCheckpoint
from flightdeck.payments.ledger.signing import Checkpoint, SignedCheckpoint, signature_valid

__all__ = ["CheckpointCheck", "CheckpointState", "check_checkpoints"]


class CheckpointState(enum.StrEnum):
    OK = "ok"
    NO_KEY = "no_key"  # no signing_key / public_key_file: signatures cannot be checked
    NOT_EXPORTED = "not_exported"  # no checkpoint_dir / checkpoint_s3 configured
    NONE_YET = "none_yet"  # nothing checkpointed yet
    MISSING = "missing"  # the store has checkpoints the export place lacks
    BAD_SIGNATURE = "bad_signature"
    WRONG_LEDGER = "wrong_ledger"
    BEYOND_CHAIN = "beyond_chain"  # signed at a seq the stored chain no longer reaches
    CHAIN_MISMATCH = "chain_mismatch"

    @property
    def failed(self) -> bool:
        return self in _FAILED


_FAILED = {
    CheckpointState.MISSING,
    CheckpointState.BAD_SIGNATURE,
    CheckpointState.WRONG_LEDGER,
    CheckpointState.BEYOND_CHAIN,
    CheckpointState.CHAIN_MISMATCH,
}


@dataclass(frozen=True)
class CheckpointCheck:
    where: str
    seq: int | None
    state: CheckpointState
    reason: str


def _judge(
    where: str,
    ledger: str,
    signed: SignedCheckpoint,
    public: Ed25519PublicKey | None,
    at: dict[int, tuple[bytes, str]],
    chained: int,
) -> CheckpointCheck:
    cp = signed.checkpoint
    if cp.ledger != ledger:
        return CheckpointCheck(
            where, cp.seq, CheckpointState.WRONG_LEDGER, f"belongs to ledger {cp.ledger!r}"
        )
    if public is None:
        return CheckpointCheck(where, cp.seq, CheckpointState.NO_KEY, "no key configured to check signatures")
    if not signature_valid(signed, public):
        return CheckpointCheck(
            where, cp.seq, CheckpointState.BAD_SIGNATURE, f"signature does not verify (key id {cp.key_id})"
        )
    if cp.seq > chained or cp.seq not in at:
        return CheckpointCheck(
            where,
            cp.seq,
            CheckpointState.BEYOND_CHAIN,
            f"signed at seq {cp.seq} but the stored chain has {chained} links",
        )
    value, last_key = at[cp.seq]
    if value.hex() != cp.chain_hash or last_key != cp.last_key:
        return CheckpointCheck(
            where,
            cp.seq,
            CheckpointState.CHAIN_MISMATCH,
            f"signed chain hash at seq {cp.seq} differs from the stored chain: the chain was rewritten",
        )
    return CheckpointCheck(where, cp.seq, CheckpointState.OK, f"signed chain hash at seq {cp.seq} matches")


def check_checkpoints(
    ledger: str,
    public: Ed25519PublicKey | None,
    export: CheckpointExport,
    exported: list[ExportedCheckpoint],
    stored: StoredCheckpoint | None,
    at: dict[int, tuple[bytes, str]],
    chained: int,
) -> list[CheckpointCheck]:
    checks: list[CheckpointCheck] = []
    for item in exported:
        checks.append(_judge(item.uri, ledger, item.signed, public, at, chained))
    if stored is not None:
        last_key = at[stored.seq][1] if stored.seq in at else None
        signed = SignedCheckpoint(
            Checkpoint(ledger, stored.seq, last_key, stored.chain_hash, stored.created_at, stored.key_id),
            stored.signature,
        )
        checks.append(_judge("store", ledger, signed, public, at, chained))
    if not export.configured:
        checks.append(
            CheckpointCheck(
                "export", None, CheckpointState.NOT_EXPORTED, "no checkpoint_dir or checkpoint_s3"
            )
        )
    places: list[tuple[str, list[ExportedCheckpoint]]] = []
    if export.directory is not None:
        places.append((str(export.directory), [e for e in exported if not e.uri.startswith("s3://")]))
    if export.bucket is not None:
        places.append(
            (f"s3://{export.bucket}/{export.prefix}", [e for e in exported if e.uri.startswith("s3://")])
        )
    for place, found in places:
        newest = max((e.signed.checkpoint.seq for e in found), default=None)
        if stored is not None and (newest is None or newest < stored.seq):
            checks.append(
                CheckpointCheck(
                    place,
                    stored.seq,
                    CheckpointState.MISSING,
                    f"the store's newest checkpoint (seq {stored.seq}) is not in this export place",
                )
            )
    if stored is None and not exported and chained:
        checks.append(
            CheckpointCheck("store", None, CheckpointState.NONE_YET, "the chain was never checkpointed")
        )
    return checks
