"""What a reconciliation report shows, gathered once from the store: :class:`ReconReport`.

The Markdown, HTML and PDF reports, the exceptions CSV and the cockpit's run page all render this
one object, so they cannot disagree. It is built from the run row, the run's items (its
exceptions) and the state of each item's exception across runs (open or resolved, by whom, why).

The run ``summary`` is read tolerantly: every key may be missing. When the summary has no
``categories``, counts and amounts are derived from the items (matched items are then unknown).
Amounts stay in minor units per currency; they are never added across currencies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from flightdeck.config.payments import ReconConfig
from flightdeck.payments.errors import CurrencyError
from flightdeck.payments.money import Totals, currency_exponent, describe_minor
from flightdeck.payments.recon_store import (
    ExceptionRow,
    ExceptionStatus,
    ItemRow,
    RunRow,
    RunStatus,
    get_run,
    list_exceptions,
    run_items,
)
from flightdeck.payments.records import Category
from flightdeck.store import Store

__all__ = [
    "CATEGORY_HELP",
    "CATEGORY_LABELS",
    "Amount",
    "CategoryLine",
    "InputFile",
    "ReconReport",
    "ReportItem",
    "amount_text",
    "category_lines",
    "decimal_text",
    "load_recon_report",
    "report_basename",
]

CATEGORY_LABELS: dict[Category, str] = {
    Category.MATCHED: "Matched",
    Category.AMOUNT_MISMATCH: "Amount mismatch",
    Category.FEE_VARIANCE: "Fee variance",
    Category.MISSING_IN_STATEMENT: "Missing in statement",
    Category.MISSING_INTERNALLY: "Missing internally",
    Category.DUPLICATE: "Duplicate",
    Category.STATUS_MISMATCH: "Status mismatch",
}

CATEGORY_HELP: dict[Category, str] = {
    Category.MATCHED: "our records and the statement agree on reference, amount and status",
    Category.AMOUNT_MISMATCH: "both sides have the payment, but the amounts differ beyond the tolerance",
    Category.FEE_VARIANCE: "the gateway took a different fee than agreed",
    Category.MISSING_IN_STATEMENT: "we recorded a payment the gateway's statement does not show",
    Category.MISSING_INTERNALLY: "the statement shows a payment we have no record of",
    Category.DUPLICATE: "the same payment appears more than once on one side",
    Category.STATUS_MISMATCH: "both sides have the payment, but disagree on whether it succeeded",
}

_FETCH_CHUNK = 500  # fingerprints per IN (...) query


def decimal_text(minor: int | None, currency: str | None) -> str:
    """Minor units as a plain decimal string for machines (``1250, "EUR"`` -> ``"12.50"``); an amount
    whose currency is missing or unknown stays in minor units; ``None`` is the empty string."""
    if minor is None:
        return ""
    if currency is None:
        return str(minor)
    try:
        exponent = currency_exponent(currency)
    except CurrencyError:
        return str(minor)
    return str(Decimal(minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent)))


def amount_text(minor: int | None, currency: str | None) -> str:
    """Minor units for people: ``1,234.50 EUR``; ``—`` when there is no amount."""
    if minor is None:
        return "—"
    if currency is None:
        return f"{minor:,} (minor units)"
    return describe_minor(minor, currency)


@dataclass(frozen=True)
class Amount:
    currency: str
    minor: int

    @property
    def text(self) -> str:
        return amount_text(self.minor, self.currency)


@dataclass(frozen=True)
class CategoryLine:
    """One line of the summary: a category's counts and its amounts per currency on each side."""

    category: Category
    items: int
    internal_rows: int | None
    statement_rows: int | None
    internal: tuple[Amount, ...]
    statement: tuple[Amount, ...]

    @property
    def label(self) -> str:
        return CATEGORY_LABELS[self.category]

    @property
    def help(self) -> str:
        return CATEGORY_HELP[self.category]

    @property
    def is_exception(self) -> bool:
        return self.category.is_exception


@dataclass(frozen=True)
class InputFile:
    name: str
    sha256: str | None
    rows: int | None
    skipped: str | None  # why the file was not read, or None


@dataclass(frozen=True)
class ReportItem:
    """An exception the run found, with its state across runs (``exception`` is None when the
    exception record is gone)."""

    item: ItemRow
    exception: ExceptionRow | None

    @property
    def status(self) -> str:
        return self.exception.status.value if self.exception is not None else "unknown"

    @property
    def label(self) -> str:
        return CATEGORY_LABELS[self.item.category]

    @property
    def is_open(self) -> bool:
        return self.exception is not None and self.exception.status is ExceptionStatus.OPEN

    def refs(self, side: str) -> str:
        return ", ".join(str(r) for r in self.item.refs.get(side, []))

    def rows(self, side: str) -> str:
        """Where the records came from: ``statement-0105.csv:12, …`` (source and 1-based row)."""
        out = []
        for entry in self.item.rows.get(side, []):
            if isinstance(entry, list | tuple) and len(entry) == 2:
                out.append(f"{entry[0]}:{entry[1]}")
            else:
                out.append(str(entry))
        return ", ".join(out)

    def amount(self, which: str) -> str:
        minor = {
            "internal": self.item.internal_minor,
            "statement": self.item.statement_minor,
            "difference": self.item.difference_minor,
        }[which]
        return amount_text(minor, self.item.currency)


@dataclass(frozen=True)
class ReconReport:
    title: str
    recon: str
    description: str
    service: str | None
    run: RunRow
    generated_at: datetime
    categories: tuple[CategoryLine, ...]
    categories_derived: bool  # the summary had no categories: counted from the items
    files: tuple[InputFile, ...]
    items: tuple[ReportItem, ...]
    matched_items: int | None
    currencies: tuple[str, ...]
    engine: str | None
    totals: tuple[Amount, ...] = ()  # net difference of this run's exceptions, per currency
    total_converted: Amount | None = None  # the same in the report currency, when rates allow
    currency_note: str = ""  # why there is no converted total, when there is none

    @property
    def failed(self) -> bool:
        return self.run.status is RunStatus.FAILED

    @property
    def succeeded(self) -> bool:
        return self.run.status is RunStatus.SUCCEEDED

    @property
    def exception_items(self) -> int:
        return len(self.items)

    @property
    def open_items(self) -> int:
        return sum(1 for i in self.items if i.is_open)

    @property
    def resolved_items(self) -> int:
        return sum(1 for i in self.items if i.exception is not None and not i.is_open)

    @property
    def basename(self) -> str:
        return report_basename(self.run)


def report_basename(run: RunRow) -> str:
    """``recon-<name>-<day>-run<id>``, with anything but ``[A-Za-z0-9_.-]`` replaced: a file name."""
    text = f"{run.recon}-{run.day}"
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "_.-") else "-" for c in text)
    return f"recon-{safe}-run{run.id}"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _amounts(value: Any) -> tuple[Amount, ...]:
    if not isinstance(value, Mapping):
        return ()
    return tuple(Amount(str(c), m) for c, raw in sorted(value.items()) if (m := _int(raw)) is not None)


def _from_summary(raw: Mapping[str, Any]) -> tuple[CategoryLine, ...]:
    lines = []
    for category in Category:
        entry = raw.get(category.value)
        entry = entry if isinstance(entry, Mapping) else {}
        lines.append(
            CategoryLine(
                category=category,
                items=_int(entry.get("items")) or 0,
                internal_rows=_int(entry.get("internal_rows")),
                statement_rows=_int(entry.get("statement_rows")),
                internal=_amounts(entry.get("internal_minor")),
                statement=_amounts(entry.get("statement_minor")),
            )
        )
    return tuple(lines)


def category_lines(run: RunRow) -> tuple[CategoryLine, ...]:
    """The run's per-category lines from its summary alone (no items read): empty when the summary
    has none. For cards and lists, where loading every item would cost too much."""
    summary = run.summary if isinstance(run.summary, Mapping) else {}
    raw = summary.get("categories")
    return _from_summary(raw) if isinstance(raw, Mapping) else ()


def _sum(items: Iterable[ItemRow], attr: str) -> tuple[Amount, ...]:
    sums: dict[str, int] = {}
    for item in items:
        minor = getattr(item, attr)
        if minor is not None and item.currency is not None:
            sums[item.currency] = sums.get(item.currency, 0) + int(minor)
    return tuple(Amount(c, m) for c, m in sorted(sums.items()))


def _from_items(items: Sequence[ItemRow], matched: int | None) -> tuple[CategoryLine, ...]:
    lines = []
    for category in Category:
        mine = [i for i in items if i.category is category]
        count = (matched or 0) if category is Category.MATCHED else len(mine)
        lines.append(
            CategoryLine(
                category=category,
                items=count,
                internal_rows=None,
                statement_rows=None,
                internal=_sum(mine, "internal_minor"),
                statement=_sum(mine, "statement_minor"),
            )
        )
    return tuple(lines)


def _files(value: Any) -> tuple[InputFile, ...]:
    if not isinstance(value, list):
        return ()
    out = []
    for f in value:
        if isinstance(f, Mapping):
            skipped = f.get("skipped")
            out.append(
                InputFile(
                    name=str(f.get("name", "?")),
                    sha256=str(f["sha256"]) if f.get("sha256") else None,
                    rows=_int(f.get("rows")),
                    skipped=str(skipped) if skipped else None,
                )
            )
    return tuple(out)


def _exceptions(store: Store, recon: str, fingerprints: Sequence[str]) -> dict[str, ExceptionRow]:
    found: dict[str, ExceptionRow] = {}
    unique = sorted(set(fingerprints))
    for start in range(0, len(unique), _FETCH_CHUNK):
        chunk = unique[start : start + _FETCH_CHUNK]
        for e in list_exceptions(store, recon=recon, fingerprints=chunk, limit=len(chunk)):
            found[e.fingerprint] = e
    return found


def load_recon_report(
    store: Store,
    run_id: int,
    *,
    config: ReconConfig | None = None,
    title: str | None = None,
    generated_at: datetime | None = None,
) -> ReconReport:
    """Everything a report of run ``run_id`` shows. ``config`` (the reconciliation's configuration)
    adds its description and service. Raises ``NotFoundError`` for an unknown run."""
    run = get_run(store, run_id)
    items = run_items(store, run_id) if run.status is RunStatus.SUCCEEDED else []
    states = _exceptions(store, run.recon, [i.fingerprint for i in items])
    summary: Mapping[str, Any] = run.summary if isinstance(run.summary, Mapping) else {}
    matched = _int(summary.get("matched_items"))
    raw_categories = summary.get("categories")
    derived = not isinstance(raw_categories, Mapping)
    if isinstance(raw_categories, Mapping):
        categories = _from_summary(raw_categories)
    elif run.status is RunStatus.SUCCEEDED:
        categories = _from_items(items, matched)
    else:
        categories = ()
    if matched is None and not derived:
        matched = next((c.items for c in categories if c.category is Category.MATCHED), None)
    currencies = summary.get("currencies")
    engine = summary.get("engine")
    totals, converted, note = _totals(items, config)
    return ReconReport(
        title=title or f"Reconciliation report: {run.recon}, {run.day}",
        recon=run.recon,
        description=config.description if config is not None else "",
        service=config.service if config is not None else None,
        run=run,
        generated_at=generated_at or store.clock.now(),
        categories=categories,
        categories_derived=derived,
        files=_files(summary.get("files")),
        items=tuple(ReportItem(i, states.get(i.fingerprint)) for i in items),
        matched_items=matched,
        currencies=tuple(str(c) for c in currencies) if isinstance(currencies, list) else (),
        engine=str(engine) if engine else None,
        totals=totals,
        total_converted=converted,
        currency_note=note,
    )


def _totals(
    items: Sequence[ItemRow], config: ReconConfig | None
) -> tuple[tuple[Amount, ...], Amount | None, str]:
    """The exceptions' net difference per currency, and in the report currency when ``rates`` cover
    every currency. Currencies are never summed without a rate: the note says so instead."""
    sums = Totals()
    for item in items:
        if item.difference_minor is not None and item.currency is not None:
            sums.add(item.currency, item.difference_minor)
    per_currency = tuple(Amount(c, m) for c, m in sums.items())
    if len(sums) == 0:
        return per_currency, None, ""
    into = config.report_currency if config is not None else None
    rates = config.rates if config is not None else {}
    if into is None or not rates:
        if len(sums) > 1:
            listed = ", ".join(sums.currencies())
            return (
                per_currency,
                None,
                (
                    f"The exceptions are in {len(sums)} currencies ({listed}) and no exchange rates are "
                    "configured (rates, report_currency): they are not added up across currencies."
                ),
            )
        return per_currency, None, ""
    try:
        return per_currency, Amount(into, sums.total(into=into, rates=rates)), ""
    except CurrencyError as exc:
        return per_currency, None, f"No total in {into}: {exc}"
