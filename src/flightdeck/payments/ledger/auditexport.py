"""Writing a ledger export file for auditors (``flightdeck ledger export``) from the database.

The rows are streamed from the ledger table in key order (:class:`~.source.LedgerSource`) next to the
stored chain (:func:`~.chainstore.iter_links`), up to the seq of the newest signed checkpoint. Every
row must carry the key of its link and re-chain to the stored value (the fold from genesis with the
same canonical encoding as anchoring), and the value at the checkpoint's seq must be the signed one,
its signature valid under the configured key: an export is only ever of a verified ledger. Anything
else (a modified, deleted or back-dated row, an edited store chain, a rewritten checkpoint) stops the
export with :class:`LedgerError` naming the row, and no file is left behind: the file is written
under a temporary name in the target folder and renamed into place only when complete.

Rows are written one record batch per database batch, so memory stays bounded whatever the ledger's
size. The file layout is described in :mod:`.exportfile`.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from pydantic import JsonValue
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from flightdeck import __version__
from flightdeck.checks.base import Observation
from flightdeck.config.models import DatasourceConfig
from flightdeck.config.payments import LedgerConfig
from flightdeck.datasources import DatabaseUrl
from flightdeck.payments.errors import LedgerError, LedgerTamperedError
from flightdeck.payments.ledger.canonical import canonical_row, chain_hash, genesis, key_text
from flightdeck.payments.ledger.chainstore import iter_links, newest_checkpoint
from flightdeck.payments.ledger.export import CheckpointExport
from flightdeck.payments.ledger.exportfile import EXPORT_SCHEMA, ExportMetadata
from flightdeck.payments.ledger.signing import (
    Checkpoint,
    SignedCheckpoint,
    signature_valid,
    trusted_public_key,
)
from flightdeck.payments.ledger.source import KeyKind, LedgerSource
from flightdeck.store import Store
from flightdeck.store.tables import ledger_chain

__all__ = ["ExportResult", "export_ledger"]


@dataclass
class ExportResult:
    ledger: str
    path: str
    rows: int
    checkpoint_seq: int
    chain_hash: str
    key_id: str
    signature_checked: bool
    bytes_written: int
    seconds: float

    @property
    def rows_per_second(self) -> float | None:
        return self.rows / self.seconds if self.seconds > 0 and self.rows else None

    def observation(self) -> Observation:
        obs = Observation()
        obs.measure("exported_rows", self.rows, "rows")
        obs.measure("file_bytes", self.bytes_written, "bytes")
        obs.measure("export_seconds", self.seconds, "s")
        obs.measure("rows_per_second", self.rows_per_second, "rows/s")
        if not self.signature_checked:
            obs.warnings.append("no signing_key or public_key_file configured: the signature was not checked")
        detail: dict[str, JsonValue] = {
            "ledger": self.ledger,
            "path": self.path,
            "rows": self.rows,
            "checkpoint_seq": self.checkpoint_seq,
            "chain_hash": self.chain_hash,
            "key_id": self.key_id,
        }
        obs.detail = detail
        obs.summary = f"{self.rows} verified rows exported to {self.path}" + (
            f" (signed checkpoint at seq {self.checkpoint_seq})"
        )
        return obs


def _chain_key_at(store: Store, name: str, seq: int) -> str | None:
    try:
        with store.engine.connect() as conn:
            key = conn.execute(
                select(ledger_chain.c.row_key).where(ledger_chain.c.ledger == name, ledger_chain.c.seq == seq)
            ).scalar_one_or_none()
    except SQLAlchemyError as exc:
        raise LedgerError(f"reading the chain of {name}: {exc.__class__.__name__}") from None
    return None if key is None else str(key)


def _newest_signed(name: str, cfg: LedgerConfig, store: Store) -> SignedCheckpoint:
    """The newest signed checkpoint: from the export places, else the store's (same document)."""
    exported = [e.signed for e in CheckpointExport(name, cfg).newest()]
    stored = newest_checkpoint(store.engine, name)
    if stored is not None and all(e.checkpoint.seq < stored.seq for e in exported):
        last_key = _chain_key_at(store, name, stored.seq)
        checkpoint = Checkpoint(
            name, stored.seq, last_key, stored.chain_hash, stored.created_at, stored.key_id
        )
        exported.append(SignedCheckpoint(checkpoint, stored.signature))
    if not exported:
        raise LedgerError(
            f"ledger {name}: no signed checkpoint yet (configure signing_key and run ledger anchor)"
        )
    return max(exported, key=lambda s: s.checkpoint.seq)


def _refuse(name: str, reason: str) -> LedgerTamperedError:
    return LedgerTamperedError(f"ledger {name}: not exported: {reason}; run flightdeck ledger verify {name}")


async def export_ledger(
    name: str,
    cfg: LedgerConfig,
    datasource: DatasourceConfig,
    store: Store,
    out: Path,
    *,
    batch_size: int = 20000,
) -> ExportResult:
    """Write the verified ledger up to its newest signed checkpoint to ``out`` (see :mod:`.exportfile`)."""
    started = time.perf_counter()
    try:
        url = DatabaseUrl.parse(datasource.url)
    except ValueError as exc:
        raise LedgerError(f"ledger {name}: datasource {cfg.datasource}: {exc}") from None
    signed = _newest_signed(name, cfg, store)
    cp = signed.checkpoint
    if cp.ledger != name:
        raise _refuse(name, f"the newest checkpoint belongs to ledger {cp.ledger!r}")
    public = trusted_public_key(cfg)
    if public is not None and not signature_valid(signed, public):
        raise _refuse(name, f"the signature of the checkpoint at seq {cp.seq} does not verify")
    meta = ExportMetadata(name, genesis(name).hex(), signed.to_json(), signed, cp.key_id, __version__)
    schema = EXPORT_SCHEMA.with_metadata(meta.encode())
    source = LedgerSource(url, cfg, datasource.connect_timeout)
    kind = await source.key_kind()
    index = source.key_index
    links = iter_links(store.engine, name)
    current = genesis(name)
    last_key: str | None = None
    seq = 0
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex}.tmp")
    try:
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
            if kind is not KeyKind.EMPTY:
                batches = source.rows(kind, batch_size=batch_size)
                async with contextlib.aclosing(batches):
                    async for batch in batches:
                        seqs: list[int] = []
                        keys: list[str] = []
                        canon: list[bytes] = []
                        chain: list[bytes] = []
                        for row in batch:
                            if seq == cp.seq:
                                break
                            link = next(links, None)
                            text = key_text(row[index])
                            if link is None:
                                raise _refuse(
                                    name, f"the store's chain ends at seq {seq}, before the checkpoint"
                                )
                            if link.row_key != text:
                                raise _refuse(
                                    name,
                                    f"row key {text} where chain seq {link.seq} has key {link.row_key} "
                                    "(a row was deleted or inserted)",
                                )
                            canonical = canonical_row(row)
                            current = chain_hash(current, canonical)
                            if current != link.chain_hash:
                                raise _refuse(
                                    name, f"row {text} (chain seq {link.seq}) does not match the stored chain"
                                )
                            seq = link.seq
                            seqs.append(seq)
                            keys.append(text)
                            canon.append(canonical)
                            chain.append(current)
                            last_key = text
                        if seqs:
                            writer.write_batch(
                                pa.record_batch(
                                    [
                                        pa.array(seqs, pa.int64()),
                                        pa.array(keys, pa.string()),
                                        pa.array(canon, pa.binary()),
                                        pa.array(chain, pa.binary(32)),
                                    ],
                                    schema=schema,
                                )
                            )
                        if seq == cp.seq:
                            break
            if seq != cp.seq:
                raise _refuse(
                    name, f"the table has {seq} chained rows but the checkpoint was signed at seq {cp.seq}"
                )
            if current.hex() != cp.chain_hash or last_key != cp.last_key:
                raise _refuse(name, f"the chain at seq {cp.seq} differs from the signed checkpoint's")
        os.replace(tmp, out)
    except OSError as exc:
        raise LedgerError(f"writing {out}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return ExportResult(
        ledger=name,
        path=str(out),
        rows=seq,
        checkpoint_seq=cp.seq,
        chain_hash=cp.chain_hash,
        key_id=cp.key_id,
        signature_checked=public is not None,
        bytes_written=os.path.getsize(out),  # noqa: ASYNC240 - one stat of the file just written
        seconds=time.perf_counter() - started,
    )
