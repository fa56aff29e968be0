"""Ledger export files for auditors: exported from real SQLite and PostgreSQL ledgers, verified offline
with only the file and the public key; every kind of tampering with the file is named, and a tampered
ledger is never exported."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import update
from typer.testing import CliRunner

from flightdeck.cli.main import app
from flightdeck.config.models import DatasourceConfig
from flightdeck.payments.errors import LedgerError
from flightdeck.payments.ledger import anchor, canonical_row, chain_hash, generate_keypair, genesis
from flightdeck.payments.ledger.auditexport import export_ledger
from flightdeck.payments.ledger.exportfile import BreakKind, SignatureState, verify_file
from flightdeck.payments.ledger.signing import load_public_key, public_pem
from flightdeck.store import Store
from flightdeck.store.tables import ledger_chain
from tests.payments.test_ledger import EXPECTED_CHAIN_HASH, ROWS, LedgerDb, _ddl, ledger_config

runner = CliRunner()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LedgerDb]:
    dialect: str = request.param
    table = f"ledger_x_{uuid.uuid4().hex[:10]}"
    url = (
        f"sqlite:///{tmp_path / 'ledger.db'}"
        if dialect == "sqlite"
        else request.getfixturevalue("pg_admin_url")
    )
    ledger = LedgerDb(dialect, url, table)
    ledger.execute(_ddl(dialect))
    ledger.insert(list(ROWS))
    yield ledger
    if dialect != "sqlite":
        ledger.execute("DROP TABLE IF EXISTS {t}")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    private, public = generate_keypair(tmp_path_factory.mktemp("keys"))
    return private.read_text(), public


class Exported:
    def __init__(self, db: LedgerDb, store: Store, key: str, tmp_path: Path) -> None:
        self.db, self.store = db, store
        self.cfg = ledger_config(db, key, tmp_path / "checkpoints")
        self.ds = DatasourceConfig(url=db.url)
        self.file = tmp_path / "main.arrow"

    def anchor(self) -> None:
        asyncio.run(anchor("main", self.cfg, self.ds, self.store, batch_size=4))

    def export(self, out: Path | None = None) -> Path:
        target = out or self.file
        asyncio.run(export_ledger("main", self.cfg, self.ds, self.store, target, batch_size=4))
        return target


@pytest.fixture
def exported(db: LedgerDb, store: Store, keys: tuple[str, Path], tmp_path: Path) -> Exported:
    setup = Exported(db, store, keys[0], tmp_path)
    setup.anchor()
    setup.export()
    return setup


def rewrite(
    path: Path, change: Callable[[pa.Table], pa.Table], meta: dict[bytes, bytes] | None = None
) -> None:
    """Rewrite an export file through Arrow (keeping its metadata unless ``meta`` is given)."""
    with pa.OSFile(str(path)) as source:  # read into memory (a mapping would break on rewriting)
        table = pa.ipc.open_file(source).read_all()
    table = change(table)
    schema = table.schema.with_metadata(meta if meta is not None else table.schema.metadata)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        writer.write_table(table.cast(schema), max_chunksize=4)


def set_cell(table: pa.Table, column: str, row: int, value: object) -> pa.Table:
    values = table.column(column).to_pylist()
    values[row] = value
    index = table.schema.get_field_index(column)
    return table.set_column(
        index, table.schema.field(index), pa.array(values, table.schema.field(index).type)
    )


def test_an_export_verifies_offline_with_only_the_public_key(
    exported: Exported, keys: tuple[str, Path]
) -> None:
    result = verify_file(exported.file, load_public_key(keys[1].read_bytes()))
    assert result.ok, result.failures()
    assert (result.rows, result.checkpoint_seq, result.broken_links) == (6, 6, 0)
    assert result.checkpoint_chain_ok is True
    with pa.memory_map(str(exported.file)) as source:
        reader = pa.ipc.open_file(source)
        table = reader.read_all()
        meta = reader.schema.metadata
    assert reader.num_record_batches == 2  # streamed: one record batch per database batch (4 rows)
    assert table.column("seq").to_pylist() == [1, 2, 3, 4, 5, 6]
    assert table.column("row_key").to_pylist() == ["10", "20", "30", "40", "50", "60"]
    assert table.column("chain_hash")[5].as_py().hex() == EXPECTED_CHAIN_HASH  # the same chain on every db
    checkpoint = json.loads(meta[b"flightdeck.checkpoint"])
    exported_copy = exported.cfg.checkpoint_dir / "main" / "checkpoint-000000000000006.json"  # type: ignore[operator]
    assert meta[b"flightdeck.checkpoint"] == exported_copy.read_bytes()  # exactly as exported
    assert checkpoint["checkpoint"]["key_id"] == meta[b"flightdeck.key_id"].decode()
    assert meta[b"flightdeck.genesis"].decode() == genesis("main").hex()
    # The canonical column is what anchoring chained.
    current = genesis("main")
    for canonical in table.column("canonical").to_pylist():
        current = chain_hash(current, canonical)
    assert current.hex() == EXPECTED_CHAIN_HASH
    assert table.column("canonical")[0].as_py() == canonical_row(
        [10, "tx-1", "cash", 500, 5, "EUR", "deposit", datetime(2026, 1, 1, 10, 0, 0, 1)]
    )


def test_a_flipped_byte_in_a_canonical_value_on_disk_is_named(
    exported: Exported, keys: tuple[str, Path]
) -> None:
    data = bytearray(exported.file.read_bytes())
    needle = b"S12:wallet:alice"  # in rows 20 and 30; the first occurrence is seq 2
    at = data.index(needle)
    data[at + len(needle) - 1] ^= 0x01
    exported.file.write_bytes(bytes(data))
    result = verify_file(exported.file, load_public_key(keys[1].read_bytes()))
    assert result.broken_links == 1
    assert [(b.kind, b.seq, b.row_key) for b in result.breaks] == [(BreakKind.ROW_CHANGED, 2, "20")]
    assert "chain breaks at seq 2 (key 20): its canonical bytes are not the ones chained" in result.failures()
    assert result.checkpoint_chain_ok is True  # the stored values still match the signature


def test_a_dropped_row_is_named(exported: Exported, keys: tuple[str, Path]) -> None:
    rewrite(exported.file, lambda t: pa.concat_tables([t.slice(0, 2), t.slice(3)]))
    result = verify_file(exported.file, load_public_key(keys[1].read_bytes()))
    failures = result.failures()
    assert result.seq_error is not None
    assert failures[0] == "seq 3 is missing: after seq 2 comes seq 4 (key 40); rows were removed or reordered"
    assert [(b.seq, b.row_key) for b in result.breaks] == [(4, "40")]
    assert result.checkpoint_chain_ok is None
    assert "the checkpoint was signed at seq 6 but the file has 5 rows" in failures


def test_an_edited_chain_hash_is_named(exported: Exported, keys: tuple[str, Path]) -> None:
    rewrite(exported.file, lambda t: set_cell(t, "chain_hash", 3, b"\x00" * 32))
    result = verify_file(exported.file, load_public_key(keys[1].read_bytes()))
    assert result.broken_links == 2  # seq 4 itself and seq 5, which no longer follows from it
    assert [(b.kind, b.seq, b.row_key) for b in result.breaks] == [(BreakKind.LINK_EDITED, 4, "40")]
    assert any(
        f.startswith("chain breaks at seq 4 (key 40): its chain_hash was edited") for f in result.failures()
    )


def test_a_rechained_file_is_caught_by_the_signed_checkpoint(
    exported: Exported, keys: tuple[str, Path]
) -> None:
    def rechain(table: pa.Table) -> pa.Table:
        canonical = table.column("canonical").to_pylist()
        canonical[2] = canonical[2].replace(b"12.5", b"12.6")
        values, current = [], genesis("main")
        for c in canonical:
            current = chain_hash(current, c)
            values.append(current)
        table = table.set_column(2, table.schema.field(2), pa.array(canonical, pa.binary()))
        return table.set_column(3, table.schema.field(3), pa.array(values, pa.binary(32)))

    rewrite(exported.file, rechain)
    result = verify_file(exported.file, load_public_key(keys[1].read_bytes()))
    assert result.broken_links == 0
    assert result.checkpoint_chain_ok is False
    assert result.failures() == [
        "the chain hash at seq 6 differs from the signed checkpoint's: the chain was rewritten"
    ]


def test_an_edited_checkpoint_fails_its_signature(exported: Exported, keys: tuple[str, Path]) -> None:
    with pa.memory_map(str(exported.file)) as source:
        meta = dict(pa.ipc.open_file(source).schema.metadata)
    body = json.loads(meta[b"flightdeck.checkpoint"])
    body["checkpoint"]["seq"] = 5
    meta[b"flightdeck.checkpoint"] = json.dumps(body).encode()
    rewrite(exported.file, lambda t: t, meta)
    result = verify_file(exported.file, load_public_key(keys[1].read_bytes()))
    assert result.signature is SignatureState.BAD_SIGNATURE
    assert any("signature does not verify" in f for f in result.failures())


def test_another_public_key_is_refused(exported: Exported) -> None:
    other = Ed25519PrivateKey.generate().public_key()
    result = verify_file(exported.file, other)
    assert result.signature is SignatureState.WRONG_KEY
    assert result.broken_links == 0
    assert any("not by the key given" in f for f in result.failures())


def test_exporting_a_tampered_ledger_is_refused(
    db: LedgerDb, store: Store, keys: tuple[str, Path], tmp_path: Path
) -> None:
    setup = Exported(db, store, keys[0], tmp_path)
    setup.anchor()
    db.execute("UPDATE {t} SET memo = 'edited' WHERE id = 40")
    with pytest.raises(LedgerError, match=r"row 40 \(chain seq 4\) does not match the stored chain"):
        setup.export()
    assert not setup.file.exists()
    assert list(tmp_path.glob(".main.arrow.*")) == []  # no partial file left behind
    db.execute("UPDATE {t} SET memo = NULL WHERE id = 40")
    db.execute("DELETE FROM {t} WHERE id = 20")
    with pytest.raises(LedgerError, match="row key 30 where chain seq 2 has key 20"):
        setup.export()
    db.insert([(20, "tx-1", "wallet:alice", -500, "-5.00", "EUR", "deposit", "2026-01-01 10:00:00.000001")])
    assert setup.export().exists()  # restored: the ledger verifies again
    # A store chain rewritten to match an edited row is caught by the signed checkpoint.
    db.execute("UPDATE {t} SET memo = 'rewritten' WHERE id = 60")
    row = [60, "tx-3", "wallet:bob", -99, Decimal("-0.99"), "USD", "rewritten"]
    row.append(datetime(2026, 1, 3))
    with store.engine.connect() as conn:
        before = conn.execute(
            ledger_chain.select().where(ledger_chain.c.ledger == "main", ledger_chain.c.seq == 5)
        ).one()
    new = chain_hash(bytes.fromhex(before.chain_hash), canonical_row(row)).hex()
    with store.engine.begin() as conn:
        conn.execute(
            update(ledger_chain)
            .where(ledger_chain.c.ledger == "main", ledger_chain.c.seq == 6)
            .values(chain_hash=new)
        )
    with pytest.raises(LedgerError, match="differs from the signed checkpoint's"):
        setup.export(tmp_path / "again.arrow")


def test_cli_export_and_verify_file(exported: Exported, keys: tuple[str, Path], tmp_path: Path) -> None:
    public = str(keys[1])
    ok = runner.invoke(app, ["ledger", "verify-file", str(exported.file), "--public-key", public, "--json"])
    assert ok.exit_code == 0, ok.output
    payload = json.loads(ok.stdout)
    assert payload["ok"] is True
    assert payload["detail"]["rows"] == 6
    rewrite(exported.file, lambda t: set_cell(t, "chain_hash", 0, b"\x01" * 32))
    bad = runner.invoke(app, ["ledger", "verify-file", str(exported.file), "--public-key", public])
    assert bad.exit_code == 1
    assert "chain breaks at seq 1 (key 10)" in bad.output
    other = tmp_path / "other.pub"
    other.write_bytes(public_pem(Ed25519PrivateKey.generate().public_key()))
    wrong = runner.invoke(app, ["ledger", "verify-file", str(exported.file), "--public-key", str(other)])
    assert wrong.exit_code == 1
    assert "not by the key given" in wrong.output
    missing_key = runner.invoke(
        app, ["ledger", "verify-file", str(exported.file), "--public-key", str(tmp_path / "nope.pem")]
    )
    assert missing_key.exit_code == 2
    junk = tmp_path / "junk.arrow"
    junk.write_bytes(b"not an arrow file")
    unreadable = runner.invoke(app, ["ledger", "verify-file", str(junk), "--public-key", public])
    assert unreadable.exit_code == 3
    assert "not a readable Arrow IPC file" in " ".join(unreadable.output.split())


def test_cli_export_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLIGHTDECK_DATABASE_URL", raising=False)
    monkeypatch.delenv("FLIGHTDECK_CONFIG", raising=False)
    from tests.payments.test_ledger_cli import make_ledger, write_config

    make_ledger(tmp_path / "books.db")
    assert runner.invoke(app, ["ledger", "keygen", "--out", str(tmp_path / "keys")]).exit_code == 0
    config = write_config(tmp_path)
    refused = runner.invoke(app, ["ledger", "export", "main", "-c", str(config), "--out", "x.arrow"])
    assert refused.exit_code == 3
    assert "no signed checkpoint yet" in refused.output
    assert runner.invoke(app, ["ledger", "anchor", "main", "-c", str(config)]).exit_code == 0
    out = tmp_path / "main.arrow"
    done = runner.invoke(app, ["ledger", "export", "main", "-c", str(config), "--out", str(out), "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["detail"]["rows"] == 20
    public = str(tmp_path / "keys" / "ledger-signing.pub")
    verified = runner.invoke(app, ["ledger", "verify-file", str(out), "--public-key", public])
    assert verified.exit_code == 0, verified.output
    assert "the file is the chain signed at seq 20" in verified.output
    # A row changed behind the ledger's back: flightdeck refuses to export it, as a failure (exit 1).
    with sqlite3.connect(tmp_path / "books.db") as conn:
        conn.execute("UPDATE entries SET amount_cents = amount_cents + 1 WHERE id = 7")
    refused = runner.invoke(
        app, ["ledger", "export", "main", "-c", str(config), "--out", str(tmp_path / "t.arrow")]
    )
    assert refused.exit_code == 1, refused.output
    assert "not exported" in refused.output
    assert not (tmp_path / "t.arrow").exists()
