"""A ledger export file for auditors, and its offline verification (``flightdeck ledger verify-file``).

The file is an Arrow IPC file (the "Feather v2" format), uncompressed, one record batch per batch of
rows read from the database::

    seq         int64               1, 2, 3 ... (the chain's seq, in order, no gaps)
    row_key     string              the row's key as stored in the chain
    canonical   binary              the exact canonical bytes of the row as chained
    chain_hash  fixed_size_binary(32)   chain_seq = SHA-256(chain_{seq-1} || canonical)

and schema metadata: ``flightdeck.format`` (``flightdeck-ledger-export/1``), ``flightdeck.ledger``,
``flightdeck.genesis`` (hex), ``flightdeck.checkpoint`` (the signed checkpoint, byte for byte the JSON
that is exported to the checkpoint folder / S3), ``flightdeck.key_id`` and ``flightdeck.version``.

Arrow IPC rather than Parquet: verification is a sequential scan of two columns whose bytes are used
as they are, and an uncompressed IPC file is memory-mapped and read without decoding (a record batch
is the on-disk buffers), so reading costs next to nothing against the one SHA-256 per row. Any Arrow
implementation (pyarrow, polars, DuckDB's arrow extension, arrow-rs, Java) reads it.

Verification needs only the file and the signer's public key. Per record batch the chain is folded
from the previous link (genesis before seq 1) with one ``hashlib.sha256(previous + canonical)`` per
row, and the concatenated values are compared with the ``chain_hash`` buffer in one bytes comparison
(:func:`~flightdeck.payments.ledger.vectorized.broken_links`). Only a batch that differs is checked
link by link, each link against the stored link before it, to name the first broken seq: a link that
fails while the next one follows had its row's canonical bytes changed; two failing links in a row mean
the stored chain value between them was edited. The stored value at the checkpoint's seq must then be
the signed chain hash (with the same last key), and the signature must verify under the given key.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import JsonValue

from flightdeck.checks.base import Observation
from flightdeck.payments.errors import LedgerError
from flightdeck.payments.ledger.canonical import genesis
from flightdeck.payments.ledger.signing import SignedCheckpoint, key_id, signature_valid
from flightdeck.payments.ledger.vectorized import broken_links

__all__ = [
    "EXPORT_FORMAT",
    "EXPORT_SCHEMA",
    "Break",
    "BreakKind",
    "ExportMetadata",
    "FileVerifyResult",
    "SignatureState",
    "read_metadata",
    "verify_file",
]

EXPORT_FORMAT = "flightdeck-ledger-export/1"
EXPORT_SCHEMA = pa.schema(
    [
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("row_key", pa.string(), nullable=False),
        pa.field("canonical", pa.binary(), nullable=False),
        pa.field("chain_hash", pa.binary(32), nullable=False),
    ]
)
MAX_LISTED = 20


@dataclass(frozen=True)
class ExportMetadata:
    ledger: str
    genesis: str  # hex
    checkpoint_json: bytes
    checkpoint: SignedCheckpoint
    key_id: str
    version: str

    def encode(self) -> dict[bytes, bytes]:
        return {
            b"flightdeck.format": EXPORT_FORMAT.encode(),
            b"flightdeck.ledger": self.ledger.encode(),
            b"flightdeck.genesis": self.genesis.encode(),
            b"flightdeck.checkpoint": self.checkpoint_json,
            b"flightdeck.key_id": self.key_id.encode(),
            b"flightdeck.version": self.version.encode(),
        }


def read_metadata(schema: pa.Schema, where: str) -> ExportMetadata:
    """The export's metadata; :class:`LedgerError` when the file is not a ledger export."""
    meta = schema.metadata or {}
    if meta.get(b"flightdeck.format") != EXPORT_FORMAT.encode():
        raise LedgerError(f"{where}: not a flightdeck ledger export (no {EXPORT_FORMAT} metadata)")
    for name in EXPORT_SCHEMA.names:
        if schema.get_field_index(name) < 0 or not schema.field(name).type.equals(
            EXPORT_SCHEMA.field(name).type
        ):
            raise LedgerError(f"{where}: column {name} missing or not {EXPORT_SCHEMA.field(name).type}")
    try:
        text = {k.decode(): v for k, v in meta.items()}
        document = text["flightdeck.checkpoint"]
        return ExportMetadata(
            ledger=text["flightdeck.ledger"].decode(),
            genesis=text["flightdeck.genesis"].decode(),
            checkpoint_json=document,
            checkpoint=SignedCheckpoint.from_json(document, f"{where}: checkpoint"),
            key_id=text["flightdeck.key_id"].decode(),
            version=text["flightdeck.version"].decode(),
        )
    except (KeyError, UnicodeDecodeError) as exc:
        raise LedgerError(f"{where}: ledger export metadata incomplete ({exc})") from None


class BreakKind(enum.StrEnum):
    ROW_CHANGED = "row_changed"  # the canonical bytes are not the ones chained (the next link follows)
    LINK_EDITED = "link_edited"  # the stored chain value was edited (the next link fails too)


@dataclass(frozen=True)
class Break:
    kind: BreakKind
    seq: int
    row_key: str


class SignatureState(enum.StrEnum):
    OK = "ok"
    WRONG_KEY = "wrong_key"  # the checkpoint names another key than the one given
    BAD_SIGNATURE = "bad_signature"


@dataclass
class FileVerifyResult:
    path: str
    ledger: str
    checkpoint_seq: int
    checkpoint_key_id: str
    rows: int = 0
    broken_links: int = 0
    breaks: list[Break] = field(default_factory=list)  # the first MAX_LISTED
    seq_error: str | None = None  # the first place seq is not 1, 2, 3 ...
    genesis_ok: bool = True
    metadata_key_id_ok: bool = True
    checkpoint_ledger_ok: bool = True
    signature: SignatureState = SignatureState.OK
    checkpoint_chain_ok: bool | None = None  # None: the file does not reach the checkpoint's seq
    checkpoint_reason: str = ""
    seconds: float = 0.0

    @property
    def unsigned_rows(self) -> int:
        """Rows after the checkpoint's seq: in the file, but vouched for by no signature."""
        return max(0, self.rows - self.checkpoint_seq)

    @property
    def rows_per_second(self) -> float | None:
        return self.rows / self.seconds if self.seconds > 0 and self.rows else None

    @property
    def ok(self) -> bool:
        return not self.failures()

    def failures(self) -> list[str]:
        out: list[str] = []
        if self.seq_error is not None:
            out.append(self.seq_error)
        if self.breaks:
            first = self.breaks[0]
            what = {
                BreakKind.ROW_CHANGED: "its canonical bytes are not the ones chained",
                BreakKind.LINK_EDITED: "its chain_hash was edited (the next link does not follow from it)",
            }[first.kind]
            more = f" ({self.broken_links} broken links in all)" if self.broken_links > 1 else ""
            out.append(f"chain breaks at seq {first.seq} (key {first.row_key}): {what}{more}")
        if not self.genesis_ok:
            out.append(f"the genesis in the metadata is not the genesis of ledger {self.ledger!r}")
        if not self.checkpoint_ledger_ok:
            out.append(f"the checkpoint is not of ledger {self.ledger!r}")
        if not self.metadata_key_id_ok:
            out.append("the key id in the metadata differs from the checkpoint's")
        if self.signature is SignatureState.WRONG_KEY:
            out.append(f"the checkpoint was signed by key {self.checkpoint_key_id}, not by the key given")
        elif self.signature is SignatureState.BAD_SIGNATURE:
            out.append(f"the checkpoint's signature does not verify (key id {self.checkpoint_key_id})")
        if self.checkpoint_chain_ok is not True:
            out.append(self.checkpoint_reason)
        return out

    def observation(self) -> Observation:
        obs = Observation()
        obs.measure("rows_checked", self.rows, "rows")
        obs.measure("broken_links", self.broken_links, "links")
        obs.measure("unsigned_rows", self.unsigned_rows, "rows")
        obs.measure("verify_seconds", self.seconds, "s")
        obs.measure("rows_per_second", self.rows_per_second, "rows/s")
        obs.failures.extend(self.failures())
        if self.unsigned_rows:
            obs.warnings.append(
                f"{self.unsigned_rows} rows after the checkpoint's seq {self.checkpoint_seq} are not "
                "covered by its signature"
            )
        detail: dict[str, JsonValue] = {
            "path": self.path,
            "ledger": self.ledger,
            "rows": self.rows,
            "checkpoint_seq": self.checkpoint_seq,
            "key_id": self.checkpoint_key_id,
            "broken_links": self.broken_links,
            "breaks": [{"kind": b.kind.value, "seq": b.seq, "row_key": b.row_key} for b in self.breaks],
            "seq_error": self.seq_error,
            "signature": self.signature.value,
            "checkpoint_chain_ok": self.checkpoint_chain_ok,
        }
        obs.detail = detail
        obs.summary = f"{self.rows} rows re-chained from genesis: " + (
            "tampering found"
            if obs.failures
            else f"the file is the chain signed at seq {self.checkpoint_seq}"
        )
        return obs


def _check_seq(result: FileVerifyResult, seq: pa.Array, keys: pa.Array, start: int) -> None:
    """Record the first place ``seq`` is not ``start, start + 1, ...`` (once per file)."""
    if result.seq_error is not None or len(seq) == 0:
        return
    consecutive = pc.all(pc.equal(pc.pairwise_diff(seq), 1)).as_py() is not False
    if seq[0].as_py() == start and consecutive:
        return
    for i, value in enumerate(seq.to_pylist()):
        if value != start + i:
            after = f"after seq {start + i - 1}" if start + i > 1 else "first"
            result.seq_error = (
                f"seq {start + i} is missing: {after} comes seq {value} (key {keys[i].as_py()}); "
                "rows were removed or reordered"
            )
            return


def _classify(failing: list[tuple[int, str]]) -> list[Break]:
    """Name each broken link (``failing``: the first broken seqs with their keys, in order)."""
    seqs = {seq for seq, _ in failing}
    breaks: list[Break] = []
    for seq, row_key in failing:
        if seq + 1 in seqs:
            breaks.append(Break(BreakKind.LINK_EDITED, seq, row_key))
        elif seq - 1 not in seqs:
            breaks.append(Break(BreakKind.ROW_CHANGED, seq, row_key))
        # else: the link after an edited chain value, already named by it
    return breaks[:MAX_LISTED]


def _fixed(column: pa.Array) -> bytes:
    data = column.buffers()[1]
    assert data is not None
    start = column.offset * 32
    value: bytes = data.slice(start, 32 * len(column)).to_pybytes()
    return value


def verify_file(path: Path, public: Ed25519PublicKey) -> FileVerifyResult:
    """Verify a ledger export file offline. Tampering is reported in the result; an unreadable or
    foreign file raises :class:`LedgerError`."""
    started = time.perf_counter()
    where = str(path)
    try:
        source = pa.memory_map(where)
    except OSError as exc:
        raise LedgerError(f"{where}: not a readable Arrow IPC file ({exc})") from None
    with source:
        result = _verify_mapped(source, where, public)
    result.seconds = time.perf_counter() - started
    return result


def _verify_mapped(source: pa.MemoryMappedFile, where: str, public: Ed25519PublicKey) -> FileVerifyResult:
    try:
        reader = pa.ipc.open_file(source)
    except (OSError, pa.ArrowInvalid) as exc:
        raise LedgerError(f"{where}: not a readable Arrow IPC file ({exc})") from None
    meta = read_metadata(reader.schema, where)
    cp = meta.checkpoint.checkpoint
    result = FileVerifyResult(where, meta.ledger, cp.seq, cp.key_id)
    start = genesis(meta.ledger)
    result.genesis_ok = meta.genesis == start.hex()
    result.checkpoint_ledger_ok = cp.ledger == meta.ledger
    result.metadata_key_id_ok = meta.key_id == cp.key_id
    if cp.key_id != key_id(public):
        result.signature = SignatureState.WRONG_KEY
    elif not signature_valid(meta.checkpoint, public):
        result.signature = SignatureState.BAD_SIGNATURE
    previous = start
    at_checkpoint: tuple[bytes, str] | None = None
    rows = 0
    failing: list[tuple[int, str]] = []
    try:
        for index in range(reader.num_record_batches):
            batch = reader.get_batch(index)
            n = batch.num_rows
            if n == 0:
                continue
            seq, keys, canonical, chain = (batch.column(i) for i in range(4))
            if canonical.null_count or chain.null_count or seq.null_count:
                raise LedgerError(f"{where}: null values in record batch {index}: not a ledger export")
            _check_seq(result, seq, keys, rows + 1)
            stored = _fixed(chain)
            broken = broken_links(previous, canonical.to_pylist(), stored)
            if broken:
                result.broken_links += len(broken)
                room = 2 * MAX_LISTED + 1 - len(failing)
                failing.extend((int(seq[i].as_py()), str(keys[i].as_py())) for i in broken[: max(room, 0)])
            if rows < cp.seq <= rows + n:
                i = cp.seq - rows - 1
                at_checkpoint = (stored[32 * i : 32 * i + 32], str(keys[i].as_py()))
            previous = stored[-32:]
            rows += n
    except (OSError, pa.ArrowInvalid) as exc:
        raise LedgerError(f"{where}: unreadable record batch ({exc})") from None
    result.rows = rows
    result.breaks = _classify(failing)
    if at_checkpoint is None:
        result.checkpoint_chain_ok = None
        result.checkpoint_reason = f"the checkpoint was signed at seq {cp.seq} but the file has {rows} rows"
    elif at_checkpoint[0].hex() != cp.chain_hash or at_checkpoint[1] != cp.last_key:
        result.checkpoint_chain_ok = False
        result.checkpoint_reason = (
            f"the chain hash at seq {cp.seq} differs from the signed checkpoint's: the chain was rewritten"
        )
    else:
        result.checkpoint_chain_ok = True
    return result
