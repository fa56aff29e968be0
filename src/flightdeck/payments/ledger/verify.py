"""Verification: re-read every ledger row, re-hash it, and compare with the chain and its checkpoints.

The rows (streamed in key order) and the stored chain (in ``seq`` order, which is the key order at
anchoring time) are merged like two sorted lists:

- same key, different hash: the row was **modified** since it was anchored;
- a chained key the table no longer has: the row was **deleted**;
- a row whose key sorts inside the anchored range but was never chained: it was **inserted**
  (back-dated);
- rows after the last anchored key are **unanchored**: new, reported for information.

Each matched row is checked against its own link with one SHA-256: ``SHA-256(stored chain_{n-1} ||
canonical bytes of the row) == stored chain_n`` (genesis before seq 1). A link that fails is told
apart by the digest stored at anchoring time: if the row's ``SHA-256(canonical)`` still equals it the
row is unchanged and the chain link itself was edited (``store_chain_broken_at`` names the first such
seq); otherwise the row was modified. When every link checks, the stored chain is the chain of the
rows as they are now, and the stored value at the seq of each checkpoint is kept. The newest
checkpoint of every export place and the newest one in the store must then carry a valid Ed25519
signature by the configured key and the same chain hash and last key as the stored chain at that seq:
a store whose chain was rewritten to match edited rows is caught here, because nobody without the
private key can sign the new chain hash. Double entry and the PostgreSQL append-only trigger are
checked too.
"""

from __future__ import annotations

import enum
import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from pydantic import JsonValue

from flightdeck.checks.base import Observation
from flightdeck.config.models import DatasourceConfig
from flightdeck.config.payments import LedgerConfig
from flightdeck.datasources import DatabaseUrl, Dialect
from flightdeck.payments.errors import LedgerError
from flightdeck.payments.ledger.balance import BalanceResult, check_balance
from flightdeck.payments.ledger.canonical import canonical_row, chain_hash, genesis, key_text
from flightdeck.payments.ledger.chainstore import Link, iter_links, newest_checkpoint
from flightdeck.payments.ledger.checkpoints import CheckpointCheck, CheckpointState, check_checkpoints
from flightdeck.payments.ledger.export import CheckpointExport
from flightdeck.payments.ledger.signing import trusted_public_key
from flightdeck.payments.ledger.source import KeyKind, LedgerSource, key_before
from flightdeck.payments.ledger.trigger import append_only_trigger_present
from flightdeck.store import Store

__all__ = ["Finding", "RowFinding", "VerifyResult", "verify"]

MAX_LISTED = 20


class Finding(enum.StrEnum):
    MODIFIED = "modified"
    DELETED = "deleted"
    INSERTED = "inserted"


@dataclass(frozen=True)
class RowFinding:
    kind: Finding
    row_key: str
    seq: int | None  # the chain link (modified, deleted); None for an inserted row


@dataclass
class VerifyResult:
    ledger: str
    rows_read: int = 0
    chained_rows: int = 0
    matched_rows: int = 0
    counts: dict[Finding, int] = field(default_factory=lambda: dict.fromkeys(Finding, 0))
    findings: list[RowFinding] = field(default_factory=list)  # the first MAX_LISTED of each kind
    unanchored_rows: int = 0
    first_unanchored_key: str | None = None
    store_chain_broken_at: int | None = None
    checkpoints: list[CheckpointCheck] = field(default_factory=list)
    balance: BalanceResult | None = None
    append_only_trigger: bool | None = None
    require_trigger: bool = False
    seconds: float = 0.0

    def first(self, kind: Finding) -> RowFinding | None:
        return next((f for f in self.findings if f.kind is kind), None)

    @property
    def rows_per_second(self) -> float | None:
        return self.rows_read / self.seconds if self.seconds > 0 and self.rows_read else None

    @property
    def tampered(self) -> bool:
        bad_checkpoint = any(c.state.failed for c in self.checkpoints)
        return any(self.counts.values()) or self.store_chain_broken_at is not None or bad_checkpoint

    @property
    def ok(self) -> bool:
        return not self.observation().failures

    def observation(self) -> Observation:
        obs = Observation()
        obs.measure("rows_checked", self.rows_read, "rows")
        obs.measure("chained_rows", self.chained_rows, "rows")
        obs.measure("modified_rows", self.counts[Finding.MODIFIED], "rows")
        obs.measure("deleted_rows", self.counts[Finding.DELETED], "rows")
        obs.measure("inserted_rows", self.counts[Finding.INSERTED], "rows")
        obs.measure("unanchored_rows", self.unanchored_rows, "rows")
        obs.measure("verify_seconds", self.seconds, "s")
        obs.measure("rows_per_second", self.rows_per_second, "rows/s")
        for kind in Finding:
            first = self.first(kind)
            if first is not None:
                n = self.counts[kind]
                more = f" ({n} rows {kind.value} in all)" if n > 1 else ""
                where = f" (chain seq {first.seq})" if first.seq is not None else " inside the anchored range"
                obs.failures.append(f"first {kind.value} row: key {first.row_key}{where}{more}")
        if self.store_chain_broken_at is not None:
            obs.failures.append(
                f"stored chain link at seq {self.store_chain_broken_at} does not follow from the link before"
                " and its unchanged row: the store's chain was edited"
            )
        for check in self.checkpoints:
            if check.state.failed:
                obs.failures.append(f"checkpoint {check.where}: {check.reason}")
            elif check.state is not CheckpointState.OK:
                obs.warnings.append(f"checkpoint {check.where}: {check.reason}")
        if self.balance is not None:
            obs.measure("unbalanced_transactions", self.balance.unbalanced_count, "transactions")
            for tx in self.balance.unbalanced[:MAX_LISTED]:
                obs.failures.append(f"transaction {tx.transaction} does not balance: entries sum to {tx.sum}")
            if self.balance.unbalanced_count > MAX_LISTED:
                obs.failures.append(f"... {self.balance.unbalanced_count - MAX_LISTED} more unbalanced")
            if self.balance.total != 0:
                obs.failures.append(f"the ledger's entries sum to {self.balance.total}, not 0")
        if self.append_only_trigger is False:
            message = "the append-only trigger is not installed on the ledger table"
            (obs.failures if self.require_trigger else obs.warnings).append(message)
        if self.chained_rows == 0:
            obs.warnings.append("nothing anchored yet: run flightdeck ledger anchor")
        obs.detail = self._detail()
        obs.summary = (
            f"{self.rows_read} rows re-hashed against {self.chained_rows} chained: "
            + ("tampering found" if self.tampered else "chain intact")
            + (f", {self.unanchored_rows} not yet anchored" if self.unanchored_rows else "")
        )
        return obs

    def _detail(self) -> dict[str, JsonValue]:
        balance: JsonValue = None
        if self.balance is not None:
            balance = {
                "transactions": self.balance.transactions,
                "total": str(self.balance.total),
                "unbalanced_count": self.balance.unbalanced_count,
                "unbalanced": [
                    {"transaction": u.transaction, "sum": str(u.sum)} for u in self.balance.unbalanced
                ],
            }
        return {
            "ledger": self.ledger,
            "rows_read": self.rows_read,
            "chained_rows": self.chained_rows,
            "counts": {k.value: v for k, v in self.counts.items()},
            "findings": [{"kind": f.kind.value, "row_key": f.row_key, "seq": f.seq} for f in self.findings],
            "unanchored_rows": self.unanchored_rows,
            "first_unanchored_key": self.first_unanchored_key,
            "store_chain_broken_at": self.store_chain_broken_at,
            "checkpoints": [
                {"where": c.where, "seq": c.seq, "state": c.state.value, "reason": c.reason}
                for c in self.checkpoints
            ],
            "balance": balance,
            "append_only_trigger": self.append_only_trigger,
        }


class _ChainWalk:
    """Steps through the stored chain, keeping the previous link's value (what the current link must
    follow from) and the values at ``watch`` seqs."""

    def __init__(self, links: Iterator[Link], ledger: str, result: VerifyResult, watch: set[int]) -> None:
        self._links = links
        self._result = result
        self.previous = genesis(ledger)
        self._watch = watch
        self.at: dict[int, tuple[bytes, str]] = {}
        self.current: Link | None = None
        self._next()

    def _next(self) -> None:
        link = self.current = next(self._links, None)
        if link is None:
            return
        self._result.chained_rows += 1
        if link.seq in self._watch:
            self.at[link.seq] = (link.chain_hash, link.row_key)

    def advance(self) -> None:
        if self.current is not None:
            self.previous = self.current.chain_hash
        self._next()

    def check(self, canonical: bytes) -> Finding | None:
        """Check the current link against its row's canonical bytes (None: it follows)."""
        link = self.current
        assert link is not None
        if chain_hash(self.previous, canonical) == link.chain_hash:
            return None
        if hashlib.sha256(canonical).digest() != link.row_hash:
            return Finding.MODIFIED
        if self._result.store_chain_broken_at is None:
            self._result.store_chain_broken_at = link.seq
        return None


def _note(result: VerifyResult, kind: Finding, row_key: str, seq: int | None) -> None:
    result.counts[kind] += 1
    if result.counts[kind] <= MAX_LISTED:
        result.findings.append(RowFinding(kind, row_key, seq))


async def verify(
    name: str, cfg: LedgerConfig, datasource: DatasourceConfig, store: Store, *, batch_size: int = 5000
) -> VerifyResult:
    """Verify ledger ``name``; tampering is reported in the result, not raised."""
    started = time.perf_counter()
    try:
        url = DatabaseUrl.parse(datasource.url)
    except ValueError as exc:
        raise LedgerError(f"ledger {name}: datasource {cfg.datasource}: {exc}") from None
    result = VerifyResult(ledger=name, require_trigger=cfg.require_append_only_trigger)
    public = trusted_public_key(cfg)
    export = CheckpointExport(name, cfg)
    exported = export.newest()
    stored = newest_checkpoint(store.engine, name)
    watch = {e.signed.checkpoint.seq for e in exported} | ({stored.seq} if stored else set())
    walk = _ChainWalk(iter_links(store.engine, name), name, result, watch)
    source = LedgerSource(url, cfg, datasource.connect_timeout)
    kind = await source.key_kind()
    index = source.key_index
    if kind is not KeyKind.EMPTY:
        async for batch in source.rows(kind, batch_size=batch_size):
            result.rows_read += len(batch)
            for row in batch:
                key = row[index]
                text = key_text(key)
                while (link := walk.current) is not None:
                    if link.row_key == text:
                        result.matched_rows += 1
                        if walk.check(canonical_row(row)) is Finding.MODIFIED:
                            _note(result, Finding.MODIFIED, text, link.seq)
                        walk.advance()
                        break
                    if key_before(kind, key, link.row_key):
                        _note(result, Finding.INSERTED, text, None)
                        break
                    _note(result, Finding.DELETED, link.row_key, link.seq)
                    walk.advance()
                else:
                    result.unanchored_rows += 1
                    if result.first_unanchored_key is None:
                        result.first_unanchored_key = text
    while (link := walk.current) is not None:
        _note(result, Finding.DELETED, link.row_key, link.seq)
        walk.advance()
    result.checkpoints = check_checkpoints(
        name, public, export, exported, stored, walk.at, result.chained_rows
    )
    result.balance = await check_balance(url, cfg, connect_timeout=datasource.connect_timeout)
    if url.dialect is Dialect.POSTGRESQL:
        result.append_only_trigger = await append_only_trigger_present(
            url, cfg.table, connect_timeout=datasource.connect_timeout
        )
    result.seconds = time.perf_counter() - started
    return result
