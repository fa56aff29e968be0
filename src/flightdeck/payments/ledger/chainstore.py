"""The chain flightdeck keeps in its store: ``ledger_chain`` links and ``ledger_checkpoints`` rows.

Links are appended in batches, one transaction per batch, with a compare-and-set on the chain's
tail: the batch is written only if the ledger's highest ``seq`` is still the one the batch was built
on, and the primary key ``(ledger, seq)`` makes the loser of a race fail on insert even when both
read the same tail. Two anchoring processes therefore never fork a chain: the loser gets
:class:`ChainConflict`, re-reads the tail and continues after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from flightdeck.payments.errors import LedgerError
from flightdeck.store.tables import ledger_chain, ledger_checkpoints

__all__ = [
    "ChainConflict",
    "Link",
    "StoredCheckpoint",
    "Tail",
    "append_links",
    "insert_checkpoint",
    "iter_links",
    "load_tail",
    "newest_checkpoint",
]


class ChainConflict(Exception):
    """Another process extended the chain first (internal: anchoring retries from the new tail)."""


class Link(NamedTuple):
    """One link (a NamedTuple: millions are created per verification)."""

    seq: int
    row_key: str
    row_hash: bytes
    chain_hash: bytes


@dataclass(frozen=True)
class Tail:
    seq: int  # 0: nothing anchored yet
    row_key: str | None
    chain_hash: bytes | None


@dataclass(frozen=True)
class StoredCheckpoint:
    id: int
    seq: int
    chain_hash: str
    created_at: datetime
    key_id: str
    signature: str
    exported_uri: str | None


def load_tail(engine: Engine, ledger: str) -> Tail:
    try:
        with engine.connect() as conn:
            row = conn.execute(
                select(ledger_chain.c.seq, ledger_chain.c.row_key, ledger_chain.c.chain_hash)
                .where(ledger_chain.c.ledger == ledger)
                .order_by(ledger_chain.c.seq.desc())
                .limit(1)
            ).first()
    except SQLAlchemyError as exc:
        raise LedgerError(f"reading the chain of {ledger}: {exc.__class__.__name__}") from None
    if row is None:
        return Tail(0, None, None)
    return Tail(int(row.seq), str(row.row_key), bytes.fromhex(row.chain_hash))


def append_links(engine: Engine, ledger: str, expected_seq: int, links: list[Link]) -> None:
    """Append ``links`` (seq ``expected_seq + 1`` onwards) if the tail is still ``expected_seq``."""
    if not links:
        return
    try:
        with engine.begin() as conn:
            current = conn.execute(
                select(func.coalesce(func.max(ledger_chain.c.seq), 0)).where(ledger_chain.c.ledger == ledger)
            ).scalar_one()
            if int(current) != expected_seq:
                raise ChainConflict(f"tail moved from {expected_seq} to {current}")
            conn.execute(
                insert(ledger_chain),
                [
                    {
                        "ledger": ledger,
                        "seq": link.seq,
                        "row_key": link.row_key,
                        "row_hash": link.row_hash.hex(),
                        "chain_hash": link.chain_hash.hex(),
                    }
                    for link in links
                ],
            )
    except IntegrityError:
        raise ChainConflict("a concurrent anchor wrote the same seq or key") from None
    except SQLAlchemyError as exc:
        raise LedgerError(f"writing the chain of {ledger}: {exc.__class__.__name__}") from None


def iter_links(engine: Engine, ledger: str, batch_size: int = 10000) -> Iterator[Link]:
    """Every link of a ledger's chain in ``seq`` order, read in keyset-paginated batches."""
    after = 0
    while True:
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(
                        ledger_chain.c.seq,
                        ledger_chain.c.row_key,
                        ledger_chain.c.row_hash,
                        ledger_chain.c.chain_hash,
                    )
                    .where(ledger_chain.c.ledger == ledger, ledger_chain.c.seq > after)
                    .order_by(ledger_chain.c.seq)
                    .limit(batch_size)
                ).all()
        except SQLAlchemyError as exc:
            raise LedgerError(f"reading the chain of {ledger}: {exc.__class__.__name__}") from None
        fromhex = bytes.fromhex
        for seq, row_key, row_hash, chain_hash in rows:
            try:
                yield Link(seq, row_key, fromhex(row_hash), fromhex(chain_hash))
            except ValueError:
                yield Link(seq, row_key, b"", b"")  # not hex: fails every comparison
        if len(rows) < batch_size:
            return
        after = int(rows[-1].seq)


def insert_checkpoint(
    engine: Engine,
    ledger: str,
    seq: int,
    chain_hash: str,
    created_at: datetime,
    key_id: str,
    signature: str,
    exported_uri: str | None,
) -> int:
    with engine.begin() as conn:
        result = conn.execute(
            insert(ledger_checkpoints).values(
                ledger=ledger,
                seq=seq,
                chain_hash=chain_hash,
                created_at=created_at,
                key_id=key_id,
                signature=signature,
                exported_uri=exported_uri,
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]


def newest_checkpoint(engine: Engine, ledger: str) -> StoredCheckpoint | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(ledger_checkpoints)
            .where(ledger_checkpoints.c.ledger == ledger)
            .order_by(ledger_checkpoints.c.seq.desc(), ledger_checkpoints.c.id.desc())
            .limit(1)
        ).first()
    if row is None:
        return None
    return StoredCheckpoint(
        id=int(row.id),
        seq=int(row.seq),
        chain_hash=str(row.chain_hash),
        created_at=row.created_at,
        key_id=str(row.key_id),
        signature=str(row.signature),
        exported_uri=row.exported_uri,
    )
