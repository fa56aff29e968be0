"""The double-entry ledger: balanced postings, wallets as cached balances, and their verification.

Every movement of money is one ``ledger_transactions`` row with two or more postings that sum to
zero. A wallet's ``balance_cents`` is updated in the same database transaction as its postings, so
it always equals the sum of the postings on its account, unless something changes it behind the
ledger's back (the ``drift`` fault does exactly that).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from flightdeck.demo.service.db import Conn
from flightdeck.demo.service.errors import InsufficientFunds, NotFound

__all__ = [
    "WALLET_MISMATCH_SQL",
    "AccountType",
    "Posting",
    "UnbalancedPostings",
    "Wallet",
    "WalletMismatch",
    "account_id",
    "debit_wallet",
    "get_wallet",
    "post",
    "repair_wallets",
    "unbalanced_transactions",
    "wallet_mismatches",
]


class AccountType(enum.StrEnum):
    WALLET = "wallet"  # a user's money held by us
    EXTERNAL = "external"  # the outside world: card networks
    REVENUE = "revenue"  # what bookings earn
    MERCHANT = "merchant"  # what we owe merchants paid from wallets


class UnbalancedPostings(ValueError):
    """Postings that do not sum to zero; raised before anything is written."""


@dataclass(frozen=True)
class Posting:
    account_id: int
    amount_cents: int  # positive: the account's balance grows


@dataclass(frozen=True)
class Wallet:
    id: int
    user_id: int
    account_id: int
    currency: str
    balance_cents: int


@dataclass(frozen=True)
class WalletMismatch:
    wallet_id: int
    balance_cents: int
    ledger_cents: int


WALLET_MISMATCH_SQL = """
SELECT w.id, w.balance_cents,
       COALESCE((SELECT SUM(e.amount_cents) FROM ledger_entries e WHERE e.account_id = w.account_id), 0)
FROM wallets w
WHERE w.balance_cents <> COALESCE(
    (SELECT SUM(e.amount_cents) FROM ledger_entries e WHERE e.account_id = w.account_id), 0)
"""


async def account_id(conn: Conn, code: str, type_: AccountType, now: float) -> int:
    """The id of the ledger account ``code``, created on first use."""
    found = await conn.scalar("ledger.account", "SELECT id FROM ledger_accounts WHERE code = ?", (code,))
    if found is not None:
        return int(found)
    return await conn.insert(
        "ledger.account",
        "INSERT INTO ledger_accounts (code, type, created_at) VALUES (?, ?, ?)",
        (code, type_.value, now),
    )


async def post(conn: Conn, kind: str, reference: str, postings: Sequence[Posting], now: float) -> int:
    """Write one balanced transaction and move the cached balance of every wallet it touches.

    Must run inside a write transaction (``Database.transaction()``).
    """
    if len(postings) < 2:
        raise UnbalancedPostings("a transaction needs at least two postings")
    total = sum(p.amount_cents for p in postings)
    if total != 0:
        raise UnbalancedPostings(f"postings sum to {total}, not 0")
    txn = await conn.insert(
        "ledger.transaction",
        "INSERT INTO ledger_transactions (kind, reference, created_at) VALUES (?, ?, ?)",
        (kind, reference, now),
    )
    await conn.many(
        "ledger.entry",
        "INSERT INTO ledger_entries (transaction_id, account_id, amount_cents, created_at) "
        "VALUES (?, ?, ?, ?)",
        [(txn, p.account_id, p.amount_cents, now) for p in postings],
    )
    for p in postings:
        await conn.update(
            "wallet.balance",
            "UPDATE wallets SET balance_cents = balance_cents + ?, updated_at = ? WHERE account_id = ?",
            (p.amount_cents, now, p.account_id),
        )
    return txn


async def get_wallet(conn: Conn, user_id: int) -> Wallet:
    row = await conn.one(
        "wallet.get",
        "SELECT id, user_id, account_id, currency, balance_cents FROM wallets WHERE user_id = ?",
        (user_id,),
    )
    if row is None:
        raise NotFound("this user has no wallet")
    return Wallet(row[0], row[1], row[2], row[3], row[4])


async def debit_wallet(
    conn: Conn, wallet: Wallet, counter_account: int, amount_cents: int, kind: str, reference: str, now: float
) -> int:
    """Move money out of a wallet into ``counter_account``; refuses to overdraw."""
    balance = await conn.scalar(
        "wallet.balance", "SELECT balance_cents FROM wallets WHERE id = ?", (wallet.id,)
    )
    if balance is None or int(balance) < amount_cents:
        raise InsufficientFunds(f"wallet balance {balance} is below {amount_cents}")
    return await post(
        conn,
        kind,
        reference,
        [Posting(wallet.account_id, -amount_cents), Posting(counter_account, amount_cents)],
        now,
    )


async def wallet_mismatches(conn: Conn) -> list[WalletMismatch]:
    rows = await conn.all("ledger.verify", WALLET_MISMATCH_SQL)
    return [WalletMismatch(r[0], r[1], r[2]) for r in rows]


async def unbalanced_transactions(conn: Conn) -> int:
    """Transactions whose postings do not sum to zero (0 unless the database was tampered with)."""
    count = await conn.scalar(
        "ledger.verify",
        "SELECT COUNT(*) FROM (SELECT transaction_id FROM ledger_entries "
        "GROUP BY transaction_id HAVING SUM(amount_cents) <> 0)",
    )
    return int(count or 0)


async def repair_wallets(conn: Conn, now: float) -> int:
    """Reset every drifted wallet to its ledger balance (the ledger is the source of truth)."""
    return await conn.update(
        "ledger.repair",
        "UPDATE wallets SET balance_cents = COALESCE((SELECT SUM(e.amount_cents) FROM ledger_entries e "
        "WHERE e.account_id = wallets.account_id), 0), updated_at = ? "
        "WHERE balance_cents <> COALESCE((SELECT SUM(e.amount_cents) FROM ledger_entries e "
        "WHERE e.account_id = wallets.account_id), 0)",
        (now,),
    )
