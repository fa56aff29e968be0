"""Anchoring: extend a ledger's hash chain with the rows written since the last run, then checkpoint.

Rows beyond the last anchored key are streamed from the ledger's database in key order; each row
becomes a link ``(seq, key, SHA-256(canonical bytes), chain value)`` (see
:mod:`~flightdeck.payments.ledger.canonical`), and each batch of links is appended to ``ledger_chain``
in one store transaction with a compare-and-set on the tail
(:func:`~flightdeck.payments.ledger.chainstore.append_links`). A concurrent anchor that moved
the tail first makes this one re-read the tail and continue after it, so the chain never forks.
Finally, when the chain grew (or was never checkpointed), a checkpoint is signed with the configured
Ed25519 key, exported (folder, S3) and recorded in ``ledger_checkpoints``.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import JsonValue

from flightdeck.checks.base import Observation
from flightdeck.config.models import DatasourceConfig
from flightdeck.config.payments import LedgerConfig
from flightdeck.datasources import DatabaseUrl
from flightdeck.payments.errors import LedgerError
from flightdeck.payments.ledger.canonical import canonical_row, chain_hash, genesis, key_text
from flightdeck.payments.ledger.chainstore import (
    ChainConflict,
    Link,
    append_links,
    insert_checkpoint,
    load_tail,
    newest_checkpoint,
)
from flightdeck.payments.ledger.export import CheckpointExport
from flightdeck.payments.ledger.signing import (
    Checkpoint,
    key_id,
    load_private_key,
    public_pem,
    sign_checkpoint,
)
from flightdeck.payments.ledger.source import KeyKind, LedgerSource
from flightdeck.store import Store

__all__ = ["AnchorResult", "anchor"]

MAX_ATTEMPTS = 20


@dataclass
class AnchorResult:
    ledger: str
    anchored_rows: int
    seq: int
    last_key: str | None
    chain_hash: str | None
    checkpoint_seq: int | None = None
    checkpoint_uris: list[str] = field(default_factory=list)
    key_id: str | None = None
    retries: int = 0
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float | None:
        return self.anchored_rows / self.seconds if self.seconds > 0 and self.anchored_rows else None

    def observation(self) -> Observation:
        obs = Observation()
        obs.measure("anchored_rows", self.anchored_rows, "rows")
        obs.measure("chained_rows", self.seq, "rows")
        obs.measure("anchor_seconds", self.seconds, "s")
        obs.measure("anchor_rows_per_second", self.rows_per_second, "rows/s")
        if self.key_id is None:
            obs.warnings.append("no signing_key configured: the chain is not checkpointed")
        detail: dict[str, JsonValue] = {
            "ledger": self.ledger,
            "seq": self.seq,
            "last_key": self.last_key,
            "chain_hash": self.chain_hash,
            "checkpoint_seq": self.checkpoint_seq,
            "checkpoint_uris": list(self.checkpoint_uris),
            "key_id": self.key_id,
            "retries": self.retries,
        }
        obs.detail = detail
        obs.summary = f"{self.anchored_rows} new rows anchored; chain has {self.seq} links"
        if self.checkpoint_seq is not None:
            obs.summary += f"; checkpoint signed at seq {self.checkpoint_seq}"
        return obs


async def anchor(
    name: str,
    cfg: LedgerConfig,
    datasource: DatasourceConfig,
    store: Store,
    *,
    now: datetime | None = None,
    batch_size: int = 5000,
) -> AnchorResult:
    """Chain the ledger's new rows and write a signed checkpoint. Raises :class:`LedgerError`."""
    started = time.perf_counter()
    try:
        url = DatabaseUrl.parse(datasource.url)
    except ValueError as exc:
        raise LedgerError(f"ledger {name}: datasource {cfg.datasource}: {exc}") from None
    signing = load_private_key(cfg.signing_key) if cfg.signing_key is not None else None
    source = LedgerSource(url, cfg, datasource.connect_timeout)
    kind = await source.key_kind()
    index = source.key_index
    engine = store.engine
    anchored = retries = 0
    sha256 = hashlib.sha256  # the row digest kept for diagnosis (not on verification's path)
    for _attempt in range(MAX_ATTEMPTS):
        tail = load_tail(engine, name)
        seq, last_key = tail.seq, tail.row_key
        current = tail.chain_hash or genesis(name)
        if kind is KeyKind.EMPTY:
            break
        try:
            rows = source.rows(kind, after=tail.row_key, batch_size=batch_size)
            async with contextlib.aclosing(rows):
                async for batch in rows:
                    links: list[Link] = []
                    for row in batch:
                        canonical = canonical_row(row)
                        current = chain_hash(current, canonical)
                        seq += 1
                        links.append(Link(seq, key_text(row[index]), sha256(canonical).digest(), current))
                    append_links(engine, name, seq - len(links), links)
                    anchored += len(links)
                    last_key = links[-1].row_key
            break
        except ChainConflict:
            retries += 1
    else:
        raise LedgerError(f"ledger {name}: the chain kept moving under {MAX_ATTEMPTS} attempts to extend it")
    result = AnchorResult(
        ledger=name,
        anchored_rows=anchored,
        seq=seq,
        last_key=last_key,
        chain_hash=current.hex() if seq else None,
        retries=retries,
    )
    if signing is not None:
        public = signing.public_key()
        result.key_id = key_id(public)
        previous = newest_checkpoint(engine, name)
        if seq > 0 and (previous is None or previous.seq < seq):
            checkpoint = Checkpoint(
                ledger=name,
                seq=seq,
                last_key=last_key,
                chain_hash=current.hex(),
                created_at=(now or datetime.now(UTC)).astimezone(UTC),
                key_id=result.key_id,
            )
            signed = sign_checkpoint(checkpoint, signing)
            uris = CheckpointExport(name, cfg).write(signed, public_pem(public))
            insert_checkpoint(
                engine,
                name,
                seq,
                checkpoint.chain_hash,
                checkpoint.created_at,
                checkpoint.key_id,
                signed.signature,
                " ".join(uris) or None,
            )
            result.checkpoint_seq, result.checkpoint_uris = seq, uris
    result.seconds = time.perf_counter() - started
    return result
