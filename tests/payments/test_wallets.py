"""Wallets vs ledger on real SQLite, PostgreSQL and MariaDB databases, and through the CLI."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pymysql
import pytest
from typer.testing import CliRunner

from flightdeck.cli.main import app
from flightdeck.config.models import DatasourceConfig
from flightdeck.config.payments import WalletsConfig
from flightdeck.payments.errors import PaymentsError
from flightdeck.payments.wallets import CurrencyTotals, WalletMismatch, check_wallets

WALLETS = [  # id, account_id, currency, balance_cents
    ("w1", "acc1", "EUR", 1500),  # entries 1000 + 500: right
    ("w2", "acc2", "EUR", 700),  # entries 1000 - 200 = 800: 100 short
    ("w3", "acc3", "USD", 0),  # no entries, zero: right
    ("w4", "acc4", "USD", 250),  # no entries at all: 250 too much
    ("w5", "acc5", "NGN", -5),  # entries 10: off by -15
]
ENTRIES = [("acc1", 1000), ("acc1", 500), ("acc2", 1000), ("acc2", -200), ("acc5", 10), ("orphan", 99)]


@dataclass
class Db:
    dialect: str
    url: str
    suffix: str

    def run(self, statements: list[tuple[str, tuple[object, ...]]]) -> None:
        if self.dialect == "sqlite":
            path = self.url.removeprefix("sqlite:///")
            with sqlite3.connect(path) as conn:
                for sql, params in statements:
                    conn.execute(sql.replace("%s", "?"), params)
        elif self.dialect == "postgresql":
            with psycopg.connect(self.url, autocommit=True) as conn:
                for sql, params in statements:
                    conn.execute(sql.encode(), params)
        else:
            conn = pymysql.connect(host="127.0.0.1", user="root", database="test", autocommit=True)
            with conn.cursor() as cur:
                for sql, params in statements:
                    cur.execute(sql, params)
            conn.close()


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    dialect = request.param
    url = {
        "sqlite": lambda: f"sqlite:///{tmp_path / 'wallets.db'}",
        "postgresql": lambda: request.getfixturevalue("pg_admin_url"),
        "mysql": lambda: request.getfixturevalue("mysql_url"),
    }[dialect]()
    d = Db(dialect, url, uuid.uuid4().hex[:8])
    s = d.suffix
    d.run(
        [
            (
                f"CREATE TABLE wallets_{s} (id VARCHAR(10), account_id VARCHAR(10), currency CHAR(3), "
                "balance_cents BIGINT)",
                (),
            ),
            (f"CREATE TABLE entries_{s} (account_id VARCHAR(10), amount_cents BIGINT)", ()),
            *[(f"INSERT INTO wallets_{s} VALUES (%s, %s, %s, %s)", w) for w in WALLETS],
            *[(f"INSERT INTO entries_{s} VALUES (%s, %s)", e) for e in ENTRIES],
        ]
    )
    yield d
    if dialect != "sqlite":
        d.run([(f"DROP TABLE wallets_{s}", ()), (f"DROP TABLE entries_{s}", ())])


def config(db: Db) -> WalletsConfig:
    return WalletsConfig(
        service="payments",
        datasource="books",
        wallets_table=f"wallets_{db.suffix}",
        entries_table=f"entries_{db.suffix}",
    )


def test_every_mismatch_is_listed_with_both_amounts(db: Db) -> None:
    result = asyncio.run(check_wallets(config(db), DatasourceConfig(url=db.url)))
    assert result.mismatches == [
        WalletMismatch("w2", "EUR", 700, 800),
        WalletMismatch("w5", "NGN", -5, 10),
        WalletMismatch("w4", "USD", 250, 0),
    ]
    assert [m.difference_minor for m in result.mismatches] == [-100, -15, 250]
    assert result.per_currency == [
        CurrencyTotals("EUR", 2, 1, 100),
        CurrencyTotals("NGN", 1, 1, 15),
        CurrencyTotals("USD", 2, 1, 250),
    ]
    assert result.wallets_checked == 5
    assert result.mismatched_count == 3
    assert not result.truncated
    obs = result.observation()
    assert obs.failures == [
        "wallet w2 EUR: stored 700, ledger 800, difference -100",
        "wallet w5 NGN: stored -5, ledger 10, difference -15",
        "wallet w4 USD: stored 250, ledger 0, difference +250",
    ]
    values = {m.name: m.value for m in obs.measurements}
    assert values["mismatched_wallets"] == 3
    assert values["difference_minor_eur"] == 100


def test_identifiers_from_config_cannot_inject_sql(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    sqlite3.connect(path).execute("CREATE TABLE wallets (id TEXT)").connection.close()
    cfg = WalletsConfig(service="s", datasource="d", wallets_table="wallets; DROP TABLE wallets")
    with pytest.raises(PaymentsError, match="is not a table name"):
        asyncio.run(check_wallets(cfg, DatasourceConfig(url=f"sqlite:///{path}")))
    cfg = WalletsConfig(service="s", datasource="d", balance_column='x" FROM wallets --')
    with pytest.raises(PaymentsError, match="is not a column name"):
        asyncio.run(check_wallets(cfg, DatasourceConfig(url=f"sqlite:///{path}")))
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM wallets").fetchone() == (0,)


def test_cli_wallets_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLIGHTDECK_DATABASE_URL", raising=False)
    d = Db("sqlite", f"sqlite:///{tmp_path / 'wallets.db'}", "x")
    d.run(
        [
            ("CREATE TABLE wallets (id TEXT, account_id TEXT, currency TEXT, balance_cents INTEGER)", ()),
            ("CREATE TABLE ledger_entries (account_id TEXT, amount_cents INTEGER)", ()),
            *[("INSERT INTO wallets VALUES (%s, %s, %s, %s)", w) for w in WALLETS],
            *[("INSERT INTO ledger_entries VALUES (%s, %s)", e) for e in ENTRIES],
        ]
    )
    cfg = tmp_path / "flightdeck.yaml"
    cfg.write_text(
        f"""\
services:
  payments: {{}}
store:
  state_dir: {tmp_path / "state"}
datasources:
  books: {{url: "sqlite:///{tmp_path / "wallets.db"}"}}
payments:
  wallets:
    customer:
      service: payments
      datasource: books
"""
    )
    result = CliRunner().invoke(app, ["wallets", "check", "customer", "-c", str(cfg), "--json"])
    assert result.exit_code == 1, result.output
    payload = json.loads(result.stdout)
    assert [m["wallet_id"] for m in payload["detail"]["mismatches"]] == ["w2", "w5", "w4"]
    text = CliRunner().invoke(app, ["wallets", "check", "customer", "-c", str(cfg)])
    assert "wallet w4 USD: stored 250, ledger 0, difference +250" in text.output
    missing = CliRunner().invoke(app, ["wallets", "check", "nope", "-c", str(cfg)])
    assert missing.exit_code == 2
    d.run(
        [
            ("UPDATE wallets SET balance_cents = 800 WHERE id = 'w2'", ()),
            ("UPDATE wallets SET balance_cents = 10 WHERE id = 'w5'", ()),
            ("UPDATE wallets SET balance_cents = 0 WHERE id = 'w4'", ()),
        ]
    )
    clean = CliRunner().invoke(app, ["wallets", "check", "customer", "-c", str(cfg)])
    assert clean.exit_code == 0
    assert "0 of 5 wallets differ" in clean.output
