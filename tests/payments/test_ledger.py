"""The tamper-evident ledger against real databases: SQLite, PostgreSQL and MariaDB sources, with the
store on SQLite and PostgreSQL. Every tampering (update, delete, back-dated insert) must be found and
the row named; a rewritten store chain must be caught by the exported signed checkpoint."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pymysql
import pytest
from sqlalchemy import select, update

from flightdeck.config.models import DatasourceConfig
from flightdeck.config.payments import LedgerConfig
from flightdeck.datasources import DatabaseUrl
from flightdeck.payments.ledger import (
    CheckpointState,
    Finding,
    VerifyResult,
    anchor,
    append_only_trigger_present,
    chain_hash,
    generate_keypair,
    genesis,
    install_append_only_trigger,
    verify,
)
from flightdeck.payments.ledger.signing import SignedCheckpoint
from flightdeck.store import Store
from flightdeck.store.tables import ledger_chain, ledger_checkpoints

# id, tx, account, amount_cents, amount, currency, memo, created_at (naive UTC)
ROWS = [
    (10, "tx-1", "cash", 500, "5.00", "EUR", "deposit", "2026-01-01 10:00:00.000001"),
    (20, "tx-1", "wallet:alice", -500, "-5.00", "EUR", "deposit", "2026-01-01 10:00:00.000001"),
    (30, "tx-2", "wallet:alice", 1250, "12.50", "EUR", "caf\u0065\u0301", "2026-01-02 11:30:00"),
    (40, "tx-2", "fees", -1250, "-12.50", "EUR", None, "2026-01-02 11:30:00"),
    (50, "tx-3", "cash", 99, "0.99", "USD", "t\u00e9a \u20ac", "2026-01-03 00:00:00"),
    (60, "tx-3", "wallet:bob", -99, "-0.99", "USD", "", "2026-01-03 00:00:00"),
]
COLUMNS = ["id", "tx", "account", "amount_cents", "amount", "currency", "memo", "created_at"]


@dataclass
class LedgerDb:
    """One ledger table in one real database, with a way to tamper with it."""

    dialect: str
    url: str
    table: str

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> None:
        marker = "%s" if self.dialect != "sqlite" else "?"
        sql = sql.replace("{t}", self.table).replace("%s", marker)
        if self.dialect == "sqlite":
            with sqlite3.connect(DatabaseUrl.parse(self.url).path or "") as conn:
                conn.execute(sql, params)
        elif self.dialect == "postgresql":
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(sql.encode(), params)
        else:
            conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", database="test", autocommit=True)
            try:
                with conn.cursor() as cur:
                    cur.execute(sql, params)
            finally:
                conn.close()

    def insert(self, rows: list[tuple[object, ...]]) -> None:
        for row in rows:
            self.execute("INSERT INTO {t} VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", row)


def _ddl(dialect: str) -> str:
    ts = {"postgresql": "TIMESTAMP(6)", "mysql": "DATETIME(6)", "sqlite": "TIMESTAMP"}[dialect]
    return (
        "CREATE TABLE {t} (id BIGINT PRIMARY KEY, tx VARCHAR(40) NOT NULL, account VARCHAR(40) NOT NULL, "
        f"amount_cents BIGINT NOT NULL, amount NUMERIC(12,2) NOT NULL, currency CHAR(3) NOT NULL, memo TEXT, "
        f"created_at {ts} NOT NULL)"
    )


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def ledger_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LedgerDb]:
    dialect: str = request.param
    table = f"ledger_{uuid.uuid4().hex[:10]}"
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    elif dialect == "postgresql":
        url = request.getfixturevalue("pg_admin_url")
    else:
        url = request.getfixturevalue("mysql_url")
    db = LedgerDb(dialect, url, table)
    db.execute(_ddl(dialect))
    db.insert(list(ROWS))
    yield db
    if dialect != "sqlite":
        db.execute("DROP TABLE IF EXISTS {t}")


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> str:
    private, _ = generate_keypair(tmp_path_factory.mktemp("keys"))
    return private.read_text()


def ledger_config(db: LedgerDb, key: str | None, checkpoint_dir: Path | None) -> LedgerConfig:
    return LedgerConfig.model_validate(
        {
            "service": "payments",
            "datasource": "ledgerdb",
            "table": db.table,
            "columns": COLUMNS,
            "transaction_column": "tx",
            "amount_column": "amount_cents",
            "signing_key": key,
            "checkpoint_dir": str(checkpoint_dir) if checkpoint_dir else None,
        }
    )


@dataclass
class Setup:
    db: LedgerDb
    cfg: LedgerConfig
    ds: DatasourceConfig
    store: Store
    name: str = "main"

    def anchor(self) -> int:
        return asyncio.run(anchor(self.name, self.cfg, self.ds, self.store, batch_size=2)).anchored_rows

    def verify(self) -> VerifyResult:
        return asyncio.run(verify(self.name, self.cfg, self.ds, self.store, batch_size=4))


@pytest.fixture
def setup(ledger_db: LedgerDb, store: Store, signing_key: str, tmp_path: Path) -> Setup:
    cfg = ledger_config(ledger_db, signing_key, tmp_path / "checkpoints")
    return Setup(ledger_db, cfg, DatasourceConfig(url=ledger_db.url), store)


def test_an_untouched_ledger_verifies(setup: Setup) -> None:
    assert setup.anchor() == 6
    result = setup.verify()
    obs = result.observation()
    assert result.rows_read == 6
    assert result.chained_rows == 6
    assert result.matched_rows == 6
    assert not result.tampered
    assert [c.state for c in result.checkpoints] == [CheckpointState.OK, CheckpointState.OK]
    assert result.balance is not None
    assert result.balance.balanced
    assert result.balance.transactions == 3
    if setup.db.dialect == "postgresql":
        assert result.append_only_trigger is False
        assert obs.warnings == ["the append-only trigger is not installed on the ledger table"]
    else:
        assert result.append_only_trigger is None
        assert obs.failures == []
        assert obs.warnings == []
    assert setup.anchor() == 0  # nothing new


def test_same_rows_give_the_same_chain_on_every_database(setup: Setup) -> None:
    setup.anchor()
    with setup.store.engine.connect() as conn:
        last = conn.execute(select(ledger_chain.c.chain_hash).where(ledger_chain.c.seq == 6)).scalar_one()
    # The chain of ROWS as Python values (int, str, Decimal, datetime); PostgreSQL numeric/timestamp,
    # MariaDB DECIMAL/DATETIME and SQLite REAL/text must canonicalize to the very same bytes.
    assert last == EXPECTED_CHAIN_HASH


EXPECTED_CHAIN_HASH = "1fed1e6f66e2697c8952f7fef146efeb882c29528215fc3c0f0d92a19ec8dcc2"


def test_update_delete_and_insert_are_each_found_and_named(setup: Setup) -> None:
    setup.anchor()
    setup.db.execute("UPDATE {t} SET amount_cents = 1200, amount = 12.00 WHERE id = 30")
    setup.db.execute("DELETE FROM {t} WHERE id = 50")
    setup.db.insert([(15, "tx-9", "cash", 7, "0.07", "EUR", "back-dated", "2026-01-01 12:00:00")])
    setup.db.insert([(70, "tx-4", "cash", 0, "0", "EUR", "new", "2026-01-04 00:00:00")])
    result = setup.verify()
    assert result.counts == {Finding.MODIFIED: 1, Finding.DELETED: 1, Finding.INSERTED: 1}
    assert (result.first(Finding.MODIFIED).row_key, result.first(Finding.MODIFIED).seq) == ("30", 3)  # type: ignore[union-attr]
    assert (result.first(Finding.DELETED).row_key, result.first(Finding.DELETED).seq) == ("50", 5)  # type: ignore[union-attr]
    assert result.first(Finding.INSERTED).row_key == "15"  # type: ignore[union-attr]
    assert result.unanchored_rows == 1
    assert result.first_unanchored_key == "70"
    assert result.store_chain_broken_at is None
    failures = result.observation().failures
    assert "first modified row: key 30 (chain seq 3)" in failures
    assert "first deleted row: key 50 (chain seq 5)" in failures
    assert "first inserted row: key 15 inside the anchored range" in failures
    # The edit and the insert also break double entry.
    assert "transaction tx-2 does not balance: entries sum to -50" in failures
    assert "transaction tx-3 does not balance: entries sum to -99" in failures
    assert "transaction tx-9 does not balance: entries sum to 7" in failures
    assert "the ledger's entries sum to -142, not 0" in failures


def test_each_tampering_alone_is_named(setup: Setup) -> None:
    setup.anchor()
    setup.db.execute("UPDATE {t} SET memo = 'edited' WHERE id = 60")
    result = setup.verify()
    assert [(f.kind, f.row_key) for f in result.findings] == [(Finding.MODIFIED, "60")]
    setup.db.execute("UPDATE {t} SET memo = '' WHERE id = 60")  # put it back
    setup.db.execute("DELETE FROM {t} WHERE id = 10")
    result = setup.verify()
    assert [(f.kind, f.row_key) for f in result.findings] == [(Finding.DELETED, "10")]
    setup.db.insert([(10, "tx-1", "cash", 500, "5.00", "EUR", "deposit", "2026-01-01 10:00:00.000001")])
    setup.db.insert([(55, "tx-3", "cash", 0, "0", "USD", "slipped in", "2026-01-03 00:00:00")])
    result = setup.verify()
    assert [(f.kind, f.row_key) for f in result.findings] == [(Finding.INSERTED, "55")]


def test_a_rewritten_store_chain_is_caught_by_the_exported_checkpoint(setup: Setup) -> None:
    setup.anchor()
    # An administrator edits a row AND rewrites flightdeck's chain to match it.
    setup.db.execute("UPDATE {t} SET amount_cents = 1, amount = 0.01 WHERE id = 50")
    engine = setup.store.engine
    from flightdeck.payments.ledger.canonical import canonical_row, row_hash
    from flightdeck.payments.ledger.source import LedgerSource

    async def new_rows() -> list[list[object]]:
        src = LedgerSource(DatabaseUrl.parse(setup.ds.url), setup.cfg)
        out: list[list[object]] = []
        async for batch in src.rows(await src.key_kind()):
            out.extend(list(r) for r in batch)
        return out

    rows = asyncio.run(new_rows())
    current = genesis("main")
    with engine.begin() as conn:
        for seq, row in enumerate(rows, start=1):
            current = chain_hash(current, canonical_row(row))
            conn.execute(
                update(ledger_chain)
                .where(ledger_chain.c.ledger == "main", ledger_chain.c.seq == seq)
                .values(row_hash=row_hash(row).hex(), chain_hash=current.hex())
            )
        conn.execute(update(ledger_checkpoints).values(chain_hash=current.hex()))
    result = setup.verify()
    assert result.counts[Finding.MODIFIED] == 0
    assert result.store_chain_broken_at is None
    states = {c.where: c.state for c in result.checkpoints}
    exported = next(w for w in states if w.endswith(".json"))
    assert states[exported] is CheckpointState.CHAIN_MISMATCH
    assert states["store"] is CheckpointState.BAD_SIGNATURE  # re-hashed, but nobody could re-sign it
    assert any("the chain was rewritten" in f for f in result.observation().failures)


def test_a_store_chain_edited_without_care_is_named_by_seq(setup: Setup) -> None:
    setup.anchor()
    with setup.store.engine.begin() as conn:
        conn.execute(update(ledger_chain).where(ledger_chain.c.seq == 4).values(chain_hash="00" * 32))
    result = setup.verify()
    assert result.store_chain_broken_at == 4


def test_truncating_the_store_chain_is_caught(setup: Setup) -> None:
    setup.anchor()
    with setup.store.engine.begin() as conn:
        conn.execute(ledger_chain.delete().where(ledger_chain.c.seq > 4))
    result = setup.verify()
    # Rows 5 and 6 now look unanchored, but the signed checkpoint says the chain reached seq 6.
    assert result.unanchored_rows == 2
    assert {c.state for c in result.checkpoints} >= {CheckpointState.BEYOND_CHAIN}


def test_forged_checkpoints_are_rejected(setup: Setup, tmp_path: Path) -> None:
    setup.anchor()
    folder = tmp_path / "checkpoints" / "main"
    path = next(folder.glob("checkpoint-*.json"))
    original = path.read_bytes()
    # Edited chain hash, signature kept.
    body = json.loads(original)
    body["checkpoint"]["chain_hash"] = "0" * 64
    path.write_text(json.dumps(body))
    result = setup.verify()
    assert {c.where: c.state for c in result.checkpoints}[str(path)] is CheckpointState.BAD_SIGNATURE
    # Re-signed with another key: still rejected (the key id and the signature do not match ours).
    other_private, _ = generate_keypair(tmp_path / "other")
    from flightdeck.payments.ledger.signing import load_private_key, sign_checkpoint
    from flightdeck.secret import Secret

    other = load_private_key(Secret(other_private.read_text()))
    forged = sign_checkpoint(SignedCheckpoint.from_json(original, "z").checkpoint, other)
    path.write_bytes(forged.to_json())
    result = setup.verify()
    assert {c.where: c.state for c in result.checkpoints}[str(path)] is CheckpointState.BAD_SIGNATURE


def test_two_concurrent_anchors_do_not_fork_the_chain(setup: Setup) -> None:
    more = [
        (
            100 + i,
            f"tx-{10 + i // 2}",
            "cash",
            (1 if i % 2 else -1) * i,
            "0",
            "EUR",
            None,
            "2026-01-05 00:00:00",
        )
        for i in range(40)
    ]
    setup.db.insert(more)
    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        try:
            results.append(setup.anchor())
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(results) == 46
    with setup.store.engine.connect() as conn:
        seqs = conn.execute(select(ledger_chain.c.seq).order_by(ledger_chain.c.seq)).scalars().all()
    assert seqs == list(range(1, 47))
    result = setup.verify()
    assert not result.tampered
    assert result.store_chain_broken_at is None
    assert result.chained_rows == 46


def test_the_postgresql_trigger_rejects_update_and_delete(pg_admin_url: str) -> None:
    db = LedgerDb("postgresql", pg_admin_url, f"ledger_{uuid.uuid4().hex[:10]}")
    db.execute(_ddl("postgresql"))
    try:
        db.insert(list(ROWS[:2]))
        assert asyncio.run(append_only_trigger_present(pg_admin_url, db.table)) is False
        asyncio.run(install_append_only_trigger(pg_admin_url, db.table))
        asyncio.run(install_append_only_trigger(pg_admin_url, db.table))  # idempotent
        assert asyncio.run(append_only_trigger_present(pg_admin_url, db.table)) is True
        for statement in (
            "UPDATE {t} SET memo = 'x' WHERE id = 10",
            "DELETE FROM {t} WHERE id = 20",
            "TRUNCATE {t}",
        ):
            with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="is append-only"):
                db.execute(statement)
        db.insert([ROWS[2]])  # appending still works
        db.execute("DROP TRIGGER flightdeck_append_only_rows ON {t}")
        assert asyncio.run(append_only_trigger_present(pg_admin_url, db.table)) is False
    finally:
        db.execute("DROP TABLE IF EXISTS {t}")


def test_text_keys_follow_code_point_order_on_every_database(
    ledger_db: LedgerDb, store: Store, tmp_path: Path
) -> None:
    # Mixed case: a case-insensitive collation (MariaDB's default, PostgreSQL's en_US) would order
    # "B-2" between "a-1" and "c-3"; code-point order puts upper case first.
    table = f"{ledger_db.table}_text"
    text_db = LedgerDb(ledger_db.dialect, ledger_db.url, table)
    text_db.execute("CREATE TABLE {t} (id VARCHAR(20) PRIMARY KEY, amount_cents BIGINT NOT NULL)")
    try:
        for key in ("a-1", "B-2", "c-3", "D-4", "e-5"):
            text_db.execute("INSERT INTO {t} VALUES (%s, %s)", (key, 1))
        cfg = LedgerConfig(service="payments", datasource="db", table=table, columns=["id", "amount_cents"])
        ds = DatasourceConfig(url=ledger_db.url)
        assert asyncio.run(anchor("text", cfg, ds, store)).anchored_rows == 5
        with store.engine.connect() as conn:
            keys = conn.execute(select(ledger_chain.c.row_key).order_by(ledger_chain.c.seq)).scalars().all()
        assert keys == ["B-2", "D-4", "a-1", "c-3", "e-5"]
        text_db.execute("INSERT INTO {t} VALUES (%s, %s)", ("C-0", 1))  # back-dated: between B-2 and D-4
        text_db.execute("INSERT INTO {t} VALUES (%s, %s)", ("f-6", 1))  # new
        text_db.execute("DELETE FROM {t} WHERE id = %s", ("c-3",))
        result = asyncio.run(verify("text", cfg, ds, store))
        assert [(f.kind, f.row_key) for f in result.findings] == [
            (Finding.INSERTED, "C-0"),
            (Finding.DELETED, "c-3"),
        ]
        assert result.unanchored_rows == 1
        assert result.first_unanchored_key == "f-6"
    finally:
        text_db.execute("DROP TABLE IF EXISTS {t}")
