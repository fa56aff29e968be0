"""Wallets vs ledger: every wallet's stored balance against the sum of its ledger entries.

One query joins the wallets table to the per-account sums of the entries table (``LEFT JOIN`` on a
``GROUP BY`` subquery, so a wallet without entries has a ledger sum of 0) and keeps the wallets where
the two differ; a second query over the same join counts wallets, mismatches and the total absolute
difference per currency, so the totals stay exact even when the listing is capped. Everything is in
integer minor units; table and column names from the configuration are validated and quoted
(:mod:`flightdeck.payments.sqlident`), never pasted raw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from pydantic import JsonValue

from flightdeck.checks.base import Observation
from flightdeck.config.models import DatasourceConfig
from flightdeck.config.payments import WalletsConfig
from flightdeck.datasources import DatabaseUrl, DatasourceError, read_only_query
from flightdeck.payments.errors import PaymentsError
from flightdeck.payments.sqlident import quote_identifier

__all__ = ["CurrencyTotals", "WalletMismatch", "WalletsResult", "check_wallets"]

MAX_LISTED = 10_000
MAX_FAILURE_LINES = 50


@dataclass(frozen=True)
class WalletMismatch:
    wallet_id: str
    currency: str | None
    stored_minor: int
    ledger_minor: int

    @property
    def difference_minor(self) -> int:
        """Stored minus ledger: positive when the wallet shows more than its entries justify."""
        return self.stored_minor - self.ledger_minor


@dataclass(frozen=True)
class CurrencyTotals:
    currency: str | None
    wallets: int
    mismatched: int
    abs_difference_minor: int


@dataclass
class WalletsResult:
    name: str
    wallets_checked: int
    mismatches: list[WalletMismatch] = field(default_factory=list)
    mismatched_count: int = 0
    per_currency: list[CurrencyTotals] = field(default_factory=list)

    @property
    def truncated(self) -> bool:
        return self.mismatched_count > len(self.mismatches)

    def observation(self) -> Observation:
        obs = Observation()
        obs.measure("wallets_checked", self.wallets_checked, "wallets")
        obs.measure("mismatched_wallets", self.mismatched_count, "wallets")
        for totals in self.per_currency:
            obs.measure(
                f"difference_minor_{(totals.currency or 'none').lower()}", totals.abs_difference_minor
            )
        for m in self.mismatches[:MAX_FAILURE_LINES]:
            cur = f" {m.currency}" if m.currency else ""
            obs.failures.append(
                f"wallet {m.wallet_id}{cur}: stored {m.stored_minor}, ledger {m.ledger_minor}, "
                f"difference {m.difference_minor:+d}"
            )
        if self.mismatched_count > MAX_FAILURE_LINES:
            obs.failures.append(f"... {self.mismatched_count - MAX_FAILURE_LINES} more mismatched wallets")
        obs.summary = f"{self.mismatched_count} of {self.wallets_checked} wallets differ from their ledger"
        detail: dict[str, JsonValue] = {
            "name": self.name,
            "wallets_checked": self.wallets_checked,
            "mismatched": self.mismatched_count,
            "truncated": self.truncated,
            "per_currency": [
                {
                    "currency": t.currency,
                    "wallets": t.wallets,
                    "mismatched": t.mismatched,
                    "abs_difference_minor": t.abs_difference_minor,
                }
                for t in self.per_currency
            ],
            "mismatches": [
                {
                    "wallet_id": m.wallet_id,
                    "currency": m.currency,
                    "stored_minor": m.stored_minor,
                    "ledger_minor": m.ledger_minor,
                    "difference_minor": m.difference_minor,
                }
                for m in self.mismatches
            ],
        }
        obs.detail = detail
        return obs


def _minor(value: object, what: str) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    if amount != amount.to_integral_value():
        raise PaymentsError(f"{what} {amount} is not a whole number of minor units")
    return int(amount)


def _queries(cfg: WalletsConfig, url: DatabaseUrl) -> tuple[str, str]:
    d = url.dialect
    try:
        wallets = quote_identifier(cfg.wallets_table, d, qualified=True)
        entries = quote_identifier(cfg.entries_table, d, qualified=True)
        wid, balance = quote_identifier(cfg.wallet_id, d), quote_identifier(cfg.balance_column, d)
        account = quote_identifier(cfg.account_column, d)
        e_account = quote_identifier(cfg.entry_account_column, d)
        e_amount = quote_identifier(cfg.entry_amount_column, d)
        currency = quote_identifier(cfg.currency_column, d) if cfg.currency_column else None
    except ValueError as exc:
        raise PaymentsError(str(exc)) from None
    cur = f"w.{currency}" if currency else "NULL"
    joined = (
        f"SELECT w.{wid} AS wallet_id, {cur} AS currency, w.{balance} AS stored, "  # noqa: S608 - identifiers validated and quoted
        f"COALESCE(e.total, 0) AS ledger FROM {wallets} w LEFT JOIN "
        f"(SELECT {e_account} AS account, SUM({e_amount}) AS total FROM {entries} GROUP BY {e_account}) e "
        f"ON e.account = w.{account}"
    )
    differs = "(j.stored <> j.ledger OR j.stored IS NULL)"
    listing = (
        f"SELECT j.wallet_id, j.currency, j.stored, j.ledger FROM ({joined}) j WHERE {differs} "  # noqa: S608 - identifiers validated and quoted
        "ORDER BY j.currency, j.wallet_id"
    )
    totals = (
        f"SELECT j.currency, COUNT(*), SUM(CASE WHEN {differs} THEN 1 ELSE 0 END), "  # noqa: S608 - identifiers validated and quoted
        f"SUM(CASE WHEN {differs} THEN ABS(COALESCE(j.stored, 0) - j.ledger) ELSE 0 END) "
        f"FROM ({joined}) j GROUP BY j.currency ORDER BY j.currency"
    )
    return listing, totals


async def check_wallets(
    cfg: WalletsConfig, datasource: DatasourceConfig, *, name: str = "wallets"
) -> WalletsResult:
    """Compare every wallet with its ledger entries. Raises :class:`PaymentsError` when it cannot."""
    try:
        url = DatabaseUrl.parse(datasource.url)
    except ValueError as exc:
        raise PaymentsError(f"wallets {name}: datasource {cfg.datasource}: {exc}") from None
    listing, totals = _queries(cfg, url)
    try:
        listed = await read_only_query(
            url, listing, max_rows=MAX_LISTED, connect_timeout=datasource.connect_timeout
        )
        summed = await read_only_query(url, totals, max_rows=1000, connect_timeout=datasource.connect_timeout)
    except DatasourceError as exc:
        raise PaymentsError(f"wallets {name}: {exc.reason}") from None
    per_currency = [
        CurrencyTotals(
            currency=None if c is None else str(c),
            wallets=_minor(n, "count"),
            mismatched=_minor(m, "count"),
            abs_difference_minor=_minor(diff, "difference"),
        )
        for c, n, m, diff in summed.rows
    ]
    mismatches = [
        WalletMismatch(
            wallet_id=str(wallet_id),
            currency=None if currency is None else str(currency),
            stored_minor=_minor(stored, f"wallet {wallet_id} balance"),
            ledger_minor=_minor(ledger, f"wallet {wallet_id} ledger sum"),
        )
        for wallet_id, currency, stored, ledger in listed.rows
    ]
    return WalletsResult(
        name=name,
        wallets_checked=sum(t.wallets for t in per_currency),
        mismatches=mismatches,
        mismatched_count=sum(t.mismatched for t in per_currency),
        per_currency=per_currency,
    )
