"""An append-only guard on a PostgreSQL ledger table, and a check that it is in place.

:func:`install_append_only_trigger` creates one function and two triggers on the table: a row
trigger ``BEFORE UPDATE OR DELETE`` and a statement trigger ``BEFORE TRUNCATE``, each raising
``flightdeck: ledger table <t> is append-only`` (SQLSTATE 55000). A superuser can still drop the
triggers; that is what the hash chain and the signed, exported checkpoints are for. The guard only
makes an honest mistake (a stray ``UPDATE``) fail loudly, and its absence shows in
``flightdeck ledger verify``.
"""

from __future__ import annotations

import contextlib

import asyncpg

from flightdeck.datasources import DatabaseUrl, Dialect, connect_postgres
from flightdeck.payments.errors import LedgerError
from flightdeck.payments.sqlident import quote_identifier

__all__ = ["FUNCTION_NAME", "TRIGGER_NAMES", "append_only_trigger_present", "install_append_only_trigger"]

FUNCTION_NAME = "flightdeck_ledger_append_only"
TRIGGER_NAMES = ("flightdeck_append_only_rows", "flightdeck_append_only_truncate")

_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {FUNCTION_NAME}() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    RAISE EXCEPTION 'flightdeck: ledger table % is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = '55000';
END
$body$
"""


def _target(url: DatabaseUrl | str, table: str) -> tuple[DatabaseUrl, str]:
    parsed = DatabaseUrl.parse(url) if isinstance(url, str) else url
    if parsed.dialect is not Dialect.POSTGRESQL:
        raise LedgerError("the append-only trigger is for PostgreSQL ledgers only")
    try:
        return parsed, quote_identifier(table, Dialect.POSTGRESQL, qualified=True)
    except ValueError as exc:
        raise LedgerError(str(exc)) from None


async def install_append_only_trigger(
    url: DatabaseUrl | str, table: str, connect_timeout: float = 10.0
) -> None:
    """Create (or replace) the guard; needs a role allowed to create functions and triggers."""
    parsed, quoted = _target(url, table)
    conn = await connect_postgres(parsed, connect_timeout=connect_timeout)
    rows, truncate = TRIGGER_NAMES
    try:
        async with conn.transaction():
            await conn.execute(_FUNCTION)
            await conn.execute(f"DROP TRIGGER IF EXISTS {rows} ON {quoted}")
            await conn.execute(f"DROP TRIGGER IF EXISTS {truncate} ON {quoted}")
            await conn.execute(
                f"CREATE TRIGGER {rows} BEFORE UPDATE OR DELETE ON {quoted} "
                f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION_NAME}()"
            )
            await conn.execute(
                f"CREATE TRIGGER {truncate} BEFORE TRUNCATE ON {quoted} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION_NAME}()"
            )
    except asyncpg.PostgresError as exc:
        raise LedgerError(f"{parsed.where}: installing the append-only trigger on {table}: {exc}") from None
    finally:
        with contextlib.suppress(Exception):
            await conn.close(timeout=2)


async def append_only_trigger_present(
    url: DatabaseUrl | str, table: str, connect_timeout: float = 10.0
) -> bool:
    """Both triggers exist on the table, are enabled and call the guard function."""
    parsed, quoted = _target(url, table)
    conn = await connect_postgres(parsed, connect_timeout=connect_timeout, read_only=True)
    try:
        found = await conn.fetch(
            "SELECT t.tgname, t.tgtype FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE t.tgrelid = $1::regclass AND t.tgenabled <> 'D' AND p.proname = $2 AND NOT t.tgisinternal",
            quoted,
            FUNCTION_NAME,
        )
    except asyncpg.PostgresError as exc:
        raise LedgerError(f"{parsed.where}: checking triggers on {table}: {exc}") from None
    finally:
        with contextlib.suppress(Exception):
            await conn.close(timeout=2)
    # tgtype bits: 1 row, 2 before, 8 delete, 16 update, 32 truncate.
    wanted = {TRIGGER_NAMES[0]: 1 | 2 | 8 | 16, TRIGGER_NAMES[1]: 2 | 32}
    types = {r["tgname"]: int(r["tgtype"]) for r in found}
    return all(name in types and types[name] & bits == bits for name, bits in wanted.items())
