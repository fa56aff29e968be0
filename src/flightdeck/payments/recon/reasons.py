"""Turning the matcher's row table into items with one human sentence each.

The category of every row comes from SQL (:mod:`flightdeck.payments.recon.match`); this module
only groups the rows of an item, picks the amounts an item shows and words the reason, e.g.
``statement gross 100.00 EUR vs internal 98.00 EUR: differs by 2.00 EUR, tolerance 0.50 EUR``.
Amounts stay integers or Decimals throughout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from flightdeck.config.payments import MatchConfig
from flightdeck.config.types import format_duration
from flightdeck.payments.recon.result import MatchItem, RowRef, item_fingerprint
from flightdeck.payments.records import Category

__all__ = ["GroupFigures", "build_items", "format_minor"]

_ORDER = {c: i for i, c in enumerate(Category)}


def format_minor(minor: int | Decimal, currency: str | None, exponent: int) -> str:
    """``12345, "EUR", 2`` -> ``"123.45 EUR"`` (Decimal input is rounded half-even to the unit)."""
    if not isinstance(minor, int):
        minor = int(minor.to_integral_value(ROUND_HALF_EVEN))
    whole, frac = divmod(abs(minor), 10**exponent)
    text = ("-" if minor < 0 else "") + (f"{whole}.{frac:0{exponent}d}" if exponent else str(whole))
    return f"{text} {currency}" if currency else text


@dataclass(frozen=True)
class GroupFigures:
    """The sums of one group as the SQL computed them (minor units)."""

    kind: str
    key: str
    i_n: int
    i_gross: int
    i_exp_fee: int
    i_exp_net: int
    i_cur: str | None
    i_status: str
    s_n: int
    s_gross: int
    s_fee: int | None
    s_net: int
    s_cur: str | None
    s_status: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> GroupFigures:
        def one(lo: Any, hi: Any) -> str | None:
            return str(lo) if lo == hi else None

        return cls(
            kind=str(row["kind"]),
            key=str(row["gkey"]),
            i_n=int(row["i_n"]),
            i_gross=int(row["i_gross"]),
            i_exp_fee=int(row["i_exp_fee"]),
            i_exp_net=int(row["i_exp_net"]),
            i_cur=one(row["i_cur_lo"], row["i_cur_hi"]),
            i_status=one(row["i_st_lo"], row["i_st_hi"]) or "mixed",
            s_n=int(row["s_n"]),
            s_gross=int(row["s_gross"]),
            s_fee=None if row["s_fee"] is None else int(row["s_fee"]),
            s_net=int(row["s_net"]),
            s_cur=one(row["s_cur_lo"], row["s_cur_hi"]),
            s_status=one(row["s_st_lo"], row["s_st_hi"]) or "mixed",
        )


@dataclass(frozen=True)
class _Fmt:
    options: MatchConfig
    exponents: Mapping[str, int]

    def money(self, minor: int | Decimal, currency: str | None) -> str:
        return format_minor(minor, currency, self.exponents.get(currency or "", 2))

    def tolerance(self, base: int | Decimal, currency: str, absolute: Decimal, percent: Decimal) -> str:
        exp = self.exponents.get(currency, 2)
        allowance = max(absolute * (Decimal(10) ** exp), abs(Decimal(base)) * percent / 100)
        if allowance == 0:
            return "no tolerance"
        return "tolerance " + self.money(allowance, currency)


def _when(t_us: int) -> str:
    return datetime.fromtimestamp(t_us / 1_000_000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _group_item(rows: Sequence[Mapping[str, Any]], g: GroupFigures, fmt: _Fmt) -> MatchItem:
    category = Category(rows[0]["category"])
    irows = [r for r in rows if r["side"] == "internal"]
    srows = [r for r in rows if r["side"] == "statement"]
    currencies = {str(r["currency"]) for r in rows}
    currency = currencies.pop() if len(currencies) == 1 else None
    net = fmt.options.compare == "net"
    i_amt = g.i_exp_net if net else g.i_gross
    s_amt = g.s_net if net else g.s_gross
    if g.kind == "b":
        prefix = f"batch {g.key} of {g.i_n} internal payments"
        if g.s_n > 1:
            prefix += f" paid out in {g.s_n} statement lines"
    elif g.s_n > 1:
        prefix = f"reference {g.key} settled in {g.s_n} statement lines"
    else:
        prefix = f"reference {g.key}"
    label = "net" if net else "gross"
    money = fmt.money
    if category is Category.STATUS_MISMATCH:
        reason = (
            f"{prefix}: internal status {g.i_status} but statement status {g.s_status} "
            f"(internal {money(i_amt, g.i_cur)}, statement {money(s_amt, g.s_cur)})"
        )
    elif category is Category.AMOUNT_MISMATCH and currency is None:
        reason = (
            f"{prefix}: currencies differ: internal {g.i_cur or 'mixed'} vs statement {g.s_cur or 'mixed'}"
        )
    elif category is Category.FEE_VARIANCE:
        assert currency is not None
        assert g.s_fee is not None
        expected = g.i_exp_fee
        tol = fmt.tolerance(
            expected, currency, fmt.options.fee_tolerance.absolute, fmt.options.fee_tolerance.percent
        )
        rate = fmt.options.expected_fee_percent or Decimal(0)
        fixed = fmt.options.expected_fee_fixed
        basis = f"{rate}% of {money(g.i_gross, currency)}" + (
            f" + {fixed} {currency} per payment" if fixed else ""
        )
        reason = (
            f"{prefix}: statement fee {money(g.s_fee, currency)} vs expected {money(expected, currency)} "
            f"({basis}): differs by {money(abs(g.s_fee - expected), currency)}, fee {tol}"
        )
        return _item(category, reason, irows, srows, currency, expected, g.s_fee)
    else:
        assert currency is not None
        tol = fmt.tolerance(i_amt, currency, fmt.options.tolerance.absolute, fmt.options.tolerance.percent)
        verb = "vs" if category is Category.AMOUNT_MISMATCH else "matches"
        reason = (
            f"{prefix}: statement {label} {money(s_amt, currency)} {verb} internal {money(i_amt, currency)}"
        )
        if s_amt != i_amt:
            reason += f": differs by {money(abs(s_amt - i_amt), currency)}, {tol}"
    return _item(category, reason, irows, srows, currency, i_amt, s_amt)


def _single_item(row: Mapping[str, Any], gap_us: int | None, fmt: _Fmt) -> MatchItem:
    category = Category(row["category"])
    internal = row["side"] == "internal"
    side = "internal" if internal else "statement"
    ref, status, cur = str(row["reference"]), str(row["status"]), str(row["currency"])
    amount = fmt.money(int(row["amount"]), cur)
    why = row["why"]
    if why == "copy":
        when = _when(int(row["t"]))
        reason = f"{side} row repeats an identical earlier row: reference {ref}, {amount}, {status}, {when}"
    elif why == "extra" and category is Category.DUPLICATE:
        reason = (
            f"another internal {status} payment with reference {ref} ({amount}): only one payment per "
            "reference is matched against the statement"
        )
    elif why == "extra":
        reason = (
            f"internal {status} attempt for reference {ref} ({amount}) settled nothing; another row "
            "of this reference is the one matched"
        )
    elif why == "split_off":
        reason = (
            f"further statement row for {ref} ({amount}) while split matching is off: another line "
            "of this reference is the one matched"
        )
    elif category is Category.MATCHED:
        reason = (
            f"internal {status} payment {ref} of {amount} has no statement row: nothing settled, as expected"
        )
    else:
        other = "the statement has" if internal else "the internal records have"
        reason = f"{side} {status} row {ref} of {amount} has no " + (
            "statement row" if internal else "internal payment"
        )
        if gap_us is not None:
            reason += (
                f"; {other} this reference {format_duration(gap_us / 1_000_000)} away, beyond the date "
                f"window of {format_duration(fmt.options.date_window)}"
            )
    rows = [row]
    amt = int(row["amount"])
    if internal:
        return _item(category, reason, rows, [], cur, amt, None)
    return _item(category, reason, [], rows, cur, None, amt)


def _item(
    category: Category,
    reason: str,
    irows: Sequence[Mapping[str, Any]],
    srows: Sequence[Mapping[str, Any]],
    currency: str | None,
    i_amt: int | None,
    s_amt: int | None,
) -> MatchItem:
    def refs(rows: Sequence[Mapping[str, Any]]) -> tuple[tuple[str, ...], tuple[RowRef, ...]]:
        ordered = sorted(rows, key=lambda r: (str(r["source"]), int(r["row_no"])))
        return (
            tuple(str(r["reference"]) for r in ordered),
            tuple((str(r["source"]), int(r["row_no"])) for r in ordered),
        )

    i_refs, i_rows = refs(irows)
    s_refs, s_rows = refs(srows)
    diff = s_amt - i_amt if s_amt is not None and i_amt is not None else None
    return MatchItem(category, reason, i_refs, s_refs, i_rows, s_rows, currency, i_amt, s_amt, diff)


def build_items(
    rows: Sequence[Mapping[str, Any]],
    groups: Mapping[tuple[str, str], GroupFigures],
    gaps: Mapping[tuple[str, str, int], int],
    options: MatchConfig,
    exponents: Mapping[str, int],
) -> list[MatchItem]:
    """Items from the rows of ``q_items.sql`` (ordered by item), in a content-based stable order."""
    fmt = _Fmt(options, exponents)
    items: list[MatchItem] = []
    pending: list[Mapping[str, Any]] = []
    pending_key: tuple[str, str] | None = None

    def flush() -> None:
        if pending and pending_key is not None:
            items.append(_group_item(pending, groups[pending_key], fmt))
        pending.clear()

    for row in rows:
        kind = str(row["item_kind"])
        if kind in ("i", "s"):
            key = (str(row["side"]), str(row["source"]), int(row["row_no"]))
            items.append(_single_item(row, gaps.get(key), fmt))
            continue
        gkey = (kind, str(row["item_key"]))
        if gkey != pending_key:
            flush()
            pending_key = gkey
        pending.append(row)
    flush()
    items.sort(
        key=lambda i: (
            _ORDER[i.category],
            i.internal_refs,
            i.statement_refs,
            i.internal_rows,
            i.statement_rows,
        )
    )
    return _number_occurrences(items)


def _number_occurrences(items: list[MatchItem]) -> list[MatchItem]:
    """Give items of identical content distinct fingerprints: the n-th of them gets occurrence n."""
    seen: dict[str, int] = {}
    out: list[MatchItem] = []
    for item in items:
        n = seen.get(item.fingerprint, 0)
        seen[item.fingerprint] = n + 1
        if n:
            fp = item_fingerprint(item.category, item.internal_refs, item.statement_refs, item.currency,
                                  item.internal_minor, item.statement_minor, n)  # fmt: skip
            item = replace(item, fingerprint=fp)
        out.append(item)
    return out
