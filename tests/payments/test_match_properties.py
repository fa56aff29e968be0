"""Matching invariants on random inputs: every row in exactly one item, every item in one category,
re-running and reordering the inputs change nothing."""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flightdeck.config.payments import MatchConfig, Tolerance
from flightdeck.payments.recon import MatchResult, match
from flightdeck.payments.records import Category, PaymentStatus
from tests.payments.recon_helpers import Rec, internal, statement

DAY = 86400.0

recs = st.builds(
    Rec,
    reference=st.sampled_from(["A", "B", "C", "G1"]),
    amount=st.sampled_from([100, 200, 300, 600]),
    status=st.sampled_from([s.value for s in PaymentStatus]),
    currency=st.sampled_from(["EUR", "EUR", "USD"]),
    fee=st.sampled_from([None, 3, 20]),
    net=st.none(),
    group_ref=st.sampled_from([None, None, "G1", "G2"]),
    seconds=st.sampled_from([0.0, 60.0, 3 * DAY]),
)
options = st.builds(
    MatchConfig,
    tolerance=st.sampled_from(
        [Tolerance(), Tolerance(absolute=Decimal("1.00")), Tolerance(percent=Decimal(10))]
    ),
    split=st.booleans(),
    batch=st.booleans(),
    compare=st.sampled_from(["gross", "net"]),
    expected_fee_percent=st.sampled_from([None, Decimal("2.9")]),
)
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def shuffled(table: pa.Table, seed: int) -> pa.Table:
    order = list(range(table.num_rows))
    random.Random(seed).shuffle(order)
    return table.take(pa.array(order, pa.int64()))


def all_items(result: MatchResult) -> list:  # type: ignore[type-arg]
    return result.exceptions + result.matched


@SETTINGS
@given(i_recs=st.lists(recs, max_size=8), s_recs=st.lists(recs, max_size=8), opts=options)
def test_every_row_lands_in_exactly_one_item(i_recs: list[Rec], s_recs: list[Rec], opts: MatchConfig) -> None:
    left, right = internal(*i_recs), statement(*s_recs)
    result = match(left, right, opts, include_matched=True)
    items = all_items(result)
    internal_rows = Counter(r for i in items for r in i.internal_rows)
    statement_rows = Counter(r for i in items for r in i.statement_rows)
    assert internal_rows == Counter(("ledger", n) for n in range(1, len(i_recs) + 1))
    assert statement_rows == Counter(("gateway.csv", n) for n in range(1, len(s_recs) + 1))
    assert all(i.internal_rows or i.statement_rows for i in items)
    # every item has one category, and the summary counts each item and row once
    per_category = Counter(i.category for i in items)
    for category in Category:
        summary = result.summary[category]
        assert summary.items == per_category[category]
        assert summary.internal_rows == sum(len(i.internal_rows) for i in items if i.category is category)
        assert summary.statement_rows == sum(len(i.statement_rows) for i in items if i.category is category)
    assert sum(s.items for s in result.summary.values()) == len(items)
    assert result.matched_items == per_category[Category.MATCHED]
    assert all(i.category.is_exception for i in result.exceptions)
    totals: Counter[str] = Counter()
    for r in i_recs:
        totals[r.currency] += r.amount
    assert sum((Counter(s.internal_amounts) for s in result.summary.values()), Counter()) == +totals


@SETTINGS
@given(
    i_recs=st.lists(recs, max_size=8),
    s_recs=st.lists(recs, max_size=8),
    opts=options,
    seed=st.integers(0, 2**32),
)
def test_rerunning_and_reordering_change_nothing(
    i_recs: list[Rec], s_recs: list[Rec], opts: MatchConfig, seed: int
) -> None:
    left, right = internal(*i_recs), statement(*s_recs)
    first = match(left, right, opts, include_matched=True)
    assert match(left, right, opts, include_matched=True) == first
    moved = match(shuffled(left, seed), shuffled(right, seed + 1), opts, include_matched=True)
    assert moved == first
    assert sorted(i.fingerprint for i in all_items(moved)) == sorted(i.fingerprint for i in all_items(first))
    exceptions_only = match(left, right, opts)
    assert exceptions_only.exceptions == first.exceptions
    assert exceptions_only.summary == first.summary
    assert len({i.fingerprint for i in first.exceptions}) == len(first.exceptions)
