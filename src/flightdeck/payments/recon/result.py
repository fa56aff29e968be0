"""What a reconciliation found: items, their categories, and a summary per category.

An *item* is what one decision was made about: a reference group (one internal payment and the
statement line(s) that settle it), a batch (internal payments sharing a ``group_ref`` and the payout
line whose reference is that ``group_ref``), or a single row (a duplicate, a payment without
counterpart). Every input row belongs to exactly one item, every item has exactly one
:class:`~flightdeck.payments.records.Category`.

An item's :attr:`MatchItem.fingerprint` is a SHA-256 over its content — category, sorted references,
currency and amounts — and an occurrence number that tells apart items of identical content (the
second and third copy of a duplicated line). Row numbers and file names are left out on purpose: a
query without ``ORDER BY``, a late payment inserted earlier in the day or a renamed statement file
moves rows, but the same discrepancy keeps its identity, so a store folds re-runs into the exceptions
it already knows (and their resolutions) instead of duplicating them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import JsonValue

from flightdeck.payments.records import Category

if TYPE_CHECKING:
    from flightdeck.checks.base import Observation

__all__ = ["CategorySummary", "MatchItem", "MatchResult", "RowRef", "item_fingerprint"]

RowRef = tuple[str, int]
"""(source, row) of an input row: the file or datasource it came from and its 1-based row."""


def item_fingerprint(
    category: Category,
    internal_refs: tuple[str, ...],
    statement_refs: tuple[str, ...],
    currency: str | None,
    internal_minor: int | None,
    statement_minor: int | None,
    occurrence: int = 0,
) -> str:
    """The stable identity of an item (see the module docstring)."""
    payload = [
        category.value,
        sorted(internal_refs),
        sorted(statement_refs),
        currency,
        internal_minor,
        statement_minor,
        occurrence,
    ]
    blob = json.dumps(payload, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class MatchItem:
    """One item of a reconciliation.

    ``internal_refs`` / ``statement_refs`` hold one reference per row, in the order of
    ``internal_rows`` / ``statement_rows`` (sorted by source, row). Amounts are minor units: for
    groups, the compared amounts (gross, or net when comparing net); for ``fee_variance`` items,
    the expected fee (internal side) and the statement's fee; for single rows, that row's gross
    amount on its side and ``None`` on the other. ``difference_minor`` is statement minus internal
    when both are known. ``currency`` is ``None`` when the item mixes currencies.
    """

    category: Category
    reason: str
    internal_refs: tuple[str, ...]
    statement_refs: tuple[str, ...]
    internal_rows: tuple[RowRef, ...]
    statement_rows: tuple[RowRef, ...]
    currency: str | None
    internal_minor: int | None
    statement_minor: int | None
    difference_minor: int | None
    fingerprint: str = field(default="")

    def __post_init__(self) -> None:
        if not self.fingerprint:
            fp = item_fingerprint(
                self.category,
                self.internal_refs,
                self.statement_refs,
                self.currency,
                self.internal_minor,
                self.statement_minor,
            )
            object.__setattr__(self, "fingerprint", fp)

    @property
    def truth_key(self) -> tuple[Category, tuple[str, ...], tuple[str, ...]]:
        """(category, sorted internal refs, sorted statement refs): what a seeded truth lists."""
        return (self.category, tuple(sorted(self.internal_refs)), tuple(sorted(self.statement_refs)))

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "category": self.category.value,
            "reason": self.reason,
            "internal_refs": list(self.internal_refs),
            "statement_refs": list(self.statement_refs),
            "internal_rows": [[s, r] for s, r in self.internal_rows],
            "statement_rows": [[s, r] for s, r in self.statement_rows],
            "currency": self.currency,
            "internal_minor": self.internal_minor,
            "statement_minor": self.statement_minor,
            "difference_minor": self.difference_minor,
            "fingerprint": self.fingerprint,
        }


@dataclass(frozen=True)
class CategorySummary:
    """Items and rows of one category; gross amounts per currency of each side, in minor units."""

    items: int = 0
    internal_rows: int = 0
    statement_rows: int = 0
    internal_amounts: Mapping[str, int] = field(default_factory=dict)
    statement_amounts: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "items": self.items,
            "internal_rows": self.internal_rows,
            "statement_rows": self.statement_rows,
            "internal_amounts": dict(sorted(self.internal_amounts.items())),
            "statement_amounts": dict(sorted(self.statement_amounts.items())),
        }


_DETAIL_ITEMS = 200


@dataclass
class MatchResult:
    """The outcome of :func:`flightdeck.payments.recon.match`.

    ``summary`` has an entry for every category (zeros included). ``exceptions`` lists every item
    that is not matched, ordered by category then content (never by input order). ``matched`` is
    filled only when the caller asked for matched items.
    """

    summary: dict[Category, CategorySummary]
    exceptions: list[MatchItem]
    matched_items: int
    internal_rows: int
    statement_rows: int
    engine: str
    matched: list[MatchItem] = field(default_factory=list)

    @property
    def exception_items(self) -> int:
        return sum(s.items for c, s in self.summary.items() if c.is_exception)

    def observation(self) -> Observation:
        from flightdeck.checks.base import Observation

        obs = Observation()
        obs.measure("internal_rows", self.internal_rows)
        obs.measure("statement_rows", self.statement_rows)
        obs.measure("matched_items", self.matched_items)
        obs.measure("exception_items", self.exception_items)
        for category, summary in self.summary.items():
            obs.measure(f"{category.value}_items", summary.items)
            if category.is_exception and summary.items:
                obs.failures.append(f"{summary.items} {category.value} item(s)")
        obs.detail = {
            "engine": self.engine,
            "summary": {c.value: s.to_json() for c, s in self.summary.items()},
            "exceptions": [item.to_json() for item in self.exceptions[:_DETAIL_ITEMS]],
            "exceptions_omitted": max(0, len(self.exceptions) - _DETAIL_ITEMS),
        }
        obs.summary = (
            f"{self.matched_items} matched, {self.exception_items} exception(s) "
            f"from {self.internal_rows} internal and {self.statement_rows} statement rows"
        )
        return obs
