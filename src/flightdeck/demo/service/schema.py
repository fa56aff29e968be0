"""The payments service's SQLite schema.

Money is held in integer cents. The ledger is double-entry: every ``ledger_transactions`` row has
``ledger_entries`` (postings) that sum to zero, and a wallet's ``balance_cents`` is a cached copy of
the sum of the postings on its ledger account. The queries the demo configuration runs (wallet
mismatches, payments stuck pending, ...) are written against these tables; see ``docs/demo.md``.
Times are Unix epoch seconds (``REAL``), so SQL can compare them with ``strftime('%s', 'now')``.
"""

from __future__ import annotations

__all__ = ["SCHEMA", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS users (
    id              INTEGER PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    created_at      REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS users_created_at ON users (created_at);

CREATE TABLE IF NOT EXISTS sessions (
    token_sha256    TEXT PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    created_at      REAL NOT NULL,
    expires_at      REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS ledger_accounts (
    id              INTEGER PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    type            TEXT NOT NULL CHECK (type IN ('wallet', 'external', 'revenue', 'merchant')),
    created_at      REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS wallets (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL UNIQUE REFERENCES users (id),
    account_id      INTEGER NOT NULL UNIQUE REFERENCES ledger_accounts (id),
    currency        TEXT NOT NULL DEFAULT 'EUR',
    balance_cents   INTEGER NOT NULL DEFAULT 0,
    updated_at      REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS ledger_transactions (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    reference       TEXT NOT NULL,
    created_at      REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS ledger_entries (
    id              INTEGER PRIMARY KEY,
    transaction_id  INTEGER NOT NULL REFERENCES ledger_transactions (id),
    account_id      INTEGER NOT NULL REFERENCES ledger_accounts (id),
    amount_cents    INTEGER NOT NULL,
    created_at      REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_entries_account ON ledger_entries (account_id);
CREATE INDEX IF NOT EXISTS ledger_entries_transaction ON ledger_entries (transaction_id);

CREATE TABLE IF NOT EXISTS payments (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    wallet_id       INTEGER NOT NULL REFERENCES wallets (id),
    kind            TEXT NOT NULL CHECK (kind IN ('topup', 'merchant')),
    amount_cents    INTEGER NOT NULL CHECK (amount_cents > 0),
    merchant        TEXT,
    card_token      TEXT,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'settled', 'failed')),
    failure_reason  TEXT,
    gateway_state   TEXT NOT NULL DEFAULT 'submitted'
                    CHECK (gateway_state IN ('submitted', 'answered', 'lost')),
    idempotency_key TEXT NOT NULL,
    request_digest  TEXT NOT NULL,
    transaction_id  INTEGER REFERENCES ledger_transactions (id),
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL,
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX IF NOT EXISTS payments_status_created ON payments (status, created_at);
CREATE INDEX IF NOT EXISTS payments_created_at ON payments (created_at);

CREATE TABLE IF NOT EXISTS bookings (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    wallet_id       INTEGER NOT NULL REFERENCES wallets (id),
    item            TEXT NOT NULL,
    amount_cents    INTEGER NOT NULL CHECK (amount_cents > 0),
    transaction_id  INTEGER NOT NULL REFERENCES ledger_transactions (id),
    created_at      REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS bookings_created_at ON bookings (created_at);
"""
