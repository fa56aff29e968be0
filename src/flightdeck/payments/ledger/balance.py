"""Double entry: every transaction's entries sum to zero, and so does the whole ledger.

Two read-only aggregate queries run in the ledger's own database (``GROUP BY`` the transaction
column, ``HAVING SUM(amount) <> 0``), so the check costs one scan whatever the table's size. Sums
come back as Decimal (or int); they are reported as normalized decimal strings in the amount
column's own unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from flightdeck.config.payments import LedgerConfig
from flightdeck.datasources import DatabaseUrl, DatasourceError, read_only_query
from flightdeck.payments.errors import LedgerError
from flightdeck.payments.ledger.canonical import normalize_decimal
from flightdeck.payments.sqlident import quote_identifier

__all__ = ["BalanceResult", "UnbalancedTransaction", "check_balance"]


@dataclass(frozen=True)
class UnbalancedTransaction:
    transaction: str
    sum: Decimal


@dataclass
class BalanceResult:
    transactions: int
    total: Decimal
    unbalanced_count: int
    unbalanced: list[UnbalancedTransaction] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return self.unbalanced_count == 0 and self.total == 0


def _decimal(value: object) -> Decimal:
    if value is None:
        return Decimal(0)
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


async def check_balance(
    url: DatabaseUrl, cfg: LedgerConfig, *, limit: int = 50, connect_timeout: float = 10.0
) -> BalanceResult | None:
    """``None`` when the ledger configures no transaction and amount columns."""
    if cfg.transaction_column is None or cfg.amount_column is None:
        return None
    try:
        tx = quote_identifier(cfg.transaction_column, url.dialect)
        amount = quote_identifier(cfg.amount_column, url.dialect)
        table = quote_identifier(cfg.table, url.dialect, qualified=True)
    except ValueError as exc:
        raise LedgerError(str(exc)) from None
    unbalanced_sql = f"SELECT {tx}, SUM({amount}) FROM {table} GROUP BY {tx} HAVING SUM({amount}) <> 0"  # noqa: S608 - identifiers validated and quoted
    totals_sql = (
        f"SELECT COUNT(DISTINCT {tx}), SUM({amount}), "  # noqa: S608 - identifiers validated and quoted
        f"(SELECT COUNT(*) FROM ({unbalanced_sql}) unbalanced) FROM {table}"
    )
    try:
        totals = await read_only_query(url, totals_sql, max_rows=1, connect_timeout=connect_timeout)
        listed = await read_only_query(
            url, f"{unbalanced_sql} ORDER BY {tx}", max_rows=limit, connect_timeout=connect_timeout
        )
    except DatasourceError as exc:
        raise LedgerError(f"double-entry check on {cfg.table}: {exc.reason}") from None
    transactions, total, unbalanced_count = totals.rows[0]
    return BalanceResult(
        transactions=int(transactions or 0),  # type: ignore[call-overload]
        total=Decimal(normalize_decimal(_decimal(total))),
        unbalanced_count=int(unbalanced_count or 0),  # type: ignore[call-overload]
        unbalanced=[
            UnbalancedTransaction(str(t), Decimal(normalize_decimal(_decimal(s)))) for t, s in listed.rows
        ],
    )
