"""Seeded internal records and gateway statements with known discrepancies of every category.

:func:`generate` builds both sides as Arrow tables with
:data:`~flightdeck.payments.records.RECORD_SCHEMA` and the *truth*: the exact multiset of
``(category, internal refs, statement refs)`` the matcher must report with :func:`match_config`.
:func:`write_parquet` writes the two sides of any size (10 million rows and more) straight to
Parquet; it never holds a Python object per row.

Every row belongs to one *case*; a case is a few rows with a known outcome:

================= ============================================= ==================================
case              rows                                          items (truth)
================= ============================================= ==================================
match             1 internal, 1 statement                       matched
split             1 internal, 2-3 statement lines summing it    matched
batch             2-4 internal sharing group_ref G, 1 line G    matched
failed_unsettled  1 internal failed, nothing on the statement   matched
retry             failed + succeeded internal, 1 statement      matched, matched (the attempt)
amount_mismatch   1 + 1, statement off by 1000-5000 minor units amount_mismatch
fee_variance      1 + 1, fee 100-500 minor units too high       fee_variance
status_mismatch   internal failed or pending, statement paid    status_mismatch
missing_statement 1 internal succeeded                          missing_in_statement
missing_internal  1 statement line                              missing_internally
dup_internal      1 + 1 and an exact copy of the internal row   matched, duplicate
dup_statement     1 + 1 and an exact copy of the statement row  matched, duplicate
double_charge     2 internal succeeded (5 min apart), 1 line    matched, duplicate
out_of_window     1 + 1 dated 3-5 days apart                    missing_in_statement, missing_int.
================= ============================================= ==================================

Statement fees follow :data:`FEE_PERCENT` + :data:`FEE_FIXED` (the fixed part once per payment),
each line's fee rounded half up to the minor unit. Rows are shuffled; ``row`` is the position after
shuffling. Column-wise generation (numpy + pyarrow compute) keeps 10 million rows to seconds.
"""

from __future__ import annotations

import enum
import random
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from flightdeck.config.payments import MatchConfig, Tolerance
from flightdeck.payments.records import RECORD_SCHEMA, Category

__all__ = [
    "CURRENCIES",
    "FEE_FIXED",
    "FEE_PERCENT",
    "Case",
    "SynthData",
    "SynthFiles",
    "TruthKey",
    "generate",
    "match_config",
    "write_parquet",
]

FEE_PERCENT = Decimal("2.9")
FEE_FIXED = Decimal("0.30")
CURRENCIES = ("EUR", "USD", "JPY")
_CURRENCY_P = (0.6, 0.3, 0.1)
_EXPONENT = np.array([2, 2, 0])
_FEE_FIXED_MINOR = np.array([30, 30, 0])  # FEE_FIXED in each currency's minor units (JPY: 0.30 -> 0)
_FEE_BP = 290  # FEE_PERCENT in basis points
_BASE_US = 1_795_132_800_000_000  # 2026-11-21T00:00:00Z
_DAY_US = 86_400_000_000
INTERNAL_SOURCE = "ledger"
STATEMENT_SOURCE = "statement.csv"

TruthKey = tuple[Category, tuple[str, ...], tuple[str, ...]]


class Case(enum.StrEnum):
    MATCH = "match"
    SPLIT = "split"
    BATCH = "batch"
    FAILED_UNSETTLED = "failed_unsettled"
    RETRY = "retry"
    AMOUNT_MISMATCH = "amount_mismatch"
    FEE_VARIANCE = "fee_variance"
    STATUS_MISMATCH = "status_mismatch"
    MISSING_STATEMENT = "missing_statement"
    MISSING_INTERNAL = "missing_internal"
    DUP_INTERNAL = "dup_internal"
    DUP_STATEMENT = "dup_statement"
    DOUBLE_CHARGE = "double_charge"
    OUT_OF_WINDOW = "out_of_window"


_RATES = {
    Case.SPLIT: 0.01,
    Case.BATCH: 0.004,
    Case.FAILED_UNSETTLED: 0.01,
    Case.RETRY: 0.003,
    Case.AMOUNT_MISMATCH: 0.004,
    Case.FEE_VARIANCE: 0.003,
    Case.STATUS_MISMATCH: 0.003,
    Case.MISSING_STATEMENT: 0.004,
    Case.MISSING_INTERNAL: 0.004,
    Case.DUP_INTERNAL: 0.002,
    Case.DUP_STATEMENT: 0.002,
    Case.DOUBLE_CHARGE: 0.002,
    Case.OUT_OF_WINDOW: 0.002,
}

_INTERNAL_ROWS = {  # internal rows per case, on average (the rest have one)
    Case.BATCH: 3,
    Case.RETRY: 2,
    Case.MISSING_INTERNAL: 0,
    Case.DUP_INTERNAL: 2,
    Case.DOUBLE_CHARGE: 2,
}


def match_config() -> MatchConfig:
    """The options the truth holds for: 2-day window, 0.05 tolerance, fees 2.9% + 0.30 +- 0.02."""
    return MatchConfig(
        tolerance=Tolerance(absolute=Decimal("0.05")),
        fee_tolerance=Tolerance(absolute=Decimal("0.02")),
        date_window=2 * 86400,
        expected_fee_percent=FEE_PERCENT,
        expected_fee_fixed=FEE_FIXED,
    )


@dataclass
class SynthData:
    internal: pa.Table
    statement: pa.Table
    counts: Counter[Category]
    """Items per category."""
    truth: Counter[TruthKey] = field(default_factory=Counter)
    """Every item as (category, sorted internal refs, sorted statement refs); empty unless asked."""


@dataclass(frozen=True)
class SynthFiles:
    internal: Path
    statement: Path
    internal_rows: int
    statement_rows: int
    counts: dict[Category, int]


class _Builder:
    """Accumulates column chunks of one side; ``ids`` < 0 mark batch references (``B...``)."""

    def __init__(self) -> None:
        self.chunks: list[dict[str, np.ndarray]] = []

    def add(
        self,
        ids: np.ndarray,
        amount: np.ndarray,
        cur: np.ndarray,
        t: np.ndarray,
        status: int,
        fee: np.ndarray | None = None,
        group: np.ndarray | None = None,
    ) -> None:
        n = len(ids)
        self.chunks.append(
            {
                "id": ids.astype(np.int64),
                "group": group.astype(np.int64) if group is not None else np.full(n, -1, np.int64),
                "amount": amount.astype(np.int64),
                "fee": fee.astype(np.int64) if fee is not None else np.full(n, -1, np.int64),
                "cur": cur.astype(np.int8),
                "t": t.astype(np.int64),
                "status": np.full(n, status, np.int8),
            }
        )

    def table(self, source: str, rng: np.random.Generator) -> pa.Table:
        cols = {k: np.concatenate([c[k] for c in self.chunks]) for k in self.chunks[0]}
        perm = rng.permutation(len(cols["id"]))
        cols = {k: v[perm] for k, v in cols.items()}
        n = len(perm)
        fee = cols["fee"]
        has_fee = fee >= 0
        return pa.table(
            [
                pa.array(np.arange(1, n + 1, dtype=np.int64)),
                pc.take(pa.array([source]), pa.array(np.zeros(n, np.int32))),
                _refs(cols["id"]),
                _refs(cols["group"], missing=True),
                pa.array(cols["amount"]),
                pa.array(fee, mask=~has_fee),
                pa.array(cols["amount"] - fee, mask=~has_fee),
                pc.take(pa.array(CURRENCIES), pa.array(cols["cur"])),
                pc.take(pa.array(_STATUSES), pa.array(cols["status"])),
                pa.array(cols["t"]).cast(pa.timestamp("us", tz="UTC")),
            ],
            schema=RECORD_SCHEMA,
        )


_STATUSES = ("succeeded", "pending", "failed", "refunded")
_OK, _PENDING, _FAILED = 0, 1, 2


def _refs(ids: np.ndarray, missing: bool = False) -> pa.Array:
    """P0000000042 for ids >= 0, B0000000007 for batch ids encoded as -(id + 2); -1 is null."""
    pay = ids >= 0
    num = np.where(pay, ids, -(ids + 2))
    digits = pc.utf8_lpad(pa.array(num).cast(pa.string()), width=10, padding="0")
    prefix = pc.if_else(pa.array(pay), "P", "B")
    out = pc.binary_join_element_wise(prefix, digits, "")
    if missing:
        out = pc.if_else(pa.array(ids == -1), pa.scalar(None, pa.string()), out)
    return out


def _fee(amount: np.ndarray, cur: np.ndarray, fixed: bool = True) -> np.ndarray:
    fee = (amount * _FEE_BP + 5000) // 10000
    return fee + _FEE_FIXED_MINOR[cur] if fixed else fee


def _counts(n: int) -> dict[Case, int]:
    counts = {case: max(1, round(rate * n)) for case, rate in _RATES.items()}
    others = sum(count * _INTERNAL_ROWS.get(case, 1) for case, count in counts.items())
    counts[Case.MATCH] = max(1, n - others)
    return counts


def generate(n: int, seed: int, *, truth: bool = True) -> SynthData:
    """About ``n`` internal rows and as many statement rows, every case at least once."""
    rng = np.random.default_rng(random.Random(seed).getrandbits(64))
    internal, statement = _Builder(), _Builder()
    counts: Counter[Category] = Counter()
    truth_items: Counter[TruthKey] = Counter()
    next_id = 0
    for case, c in _counts(n).items():
        ids = np.arange(next_id, next_id + c, dtype=np.int64)
        next_id += c
        _case(case, ids, rng, internal, statement, counts, truth_items if truth else None)
    return SynthData(
        internal.table(INTERNAL_SOURCE, rng), statement.table(STATEMENT_SOURCE, rng), counts, truth_items
    )


def _case(
    case: Case,
    ids: np.ndarray,
    rng: np.random.Generator,
    internal: _Builder,
    statement: _Builder,
    counts: Counter[Category],
    truth: Counter[TruthKey] | None,
) -> None:
    c = len(ids)
    amount = rng.integers(100, 500_000, c)
    cur = rng.choice(len(CURRENCIES), c, p=_CURRENCY_P)
    t = _BASE_US + rng.integers(0, _DAY_US, c)
    lag = rng.integers(0, _DAY_US, c)  # statement time after the payment, within the 2-day window
    refs = [f"P{i:010d}" for i in ids.tolist()] if truth is not None else []

    def note(category: Category, i_n: int, s_n: int) -> None:
        counts[category] += c
        if truth is not None:
            for r in refs:
                truth[(category, (r,) * i_n, (r,) * s_n)] += 1

    if case in (Case.MATCH, Case.DUP_INTERNAL, Case.DUP_STATEMENT, Case.DOUBLE_CHARGE, Case.RETRY):
        internal.add(ids, amount, cur, t, _OK)
        statement.add(ids, amount, cur, t + lag, _OK, _fee(amount, cur))
        note(Category.MATCHED, 1, 1)
        if case is Case.DUP_INTERNAL:
            internal.add(ids, amount, cur, t, _OK)
            note(Category.DUPLICATE, 1, 0)
        elif case is Case.DUP_STATEMENT:
            statement.add(ids, amount, cur, t + lag, _OK, _fee(amount, cur))
            note(Category.DUPLICATE, 0, 1)
        elif case is Case.DOUBLE_CHARGE:
            internal.add(ids, amount, cur, t + 300_000_000, _OK)
            note(Category.DUPLICATE, 1, 0)
        elif case is Case.RETRY:
            internal.add(ids, amount, cur, t - 120_000_000, _FAILED)
            note(Category.MATCHED, 1, 0)
    elif case is Case.SPLIT:
        internal.add(ids, amount, cur, t, _OK)
        parts = rng.integers(2, 4, c)
        first = amount * rng.integers(20, 60, c) // 100
        second = np.where(parts == 2, amount - first, (amount - first) // 2)
        third = amount - first - second
        statement.add(ids, first, cur, t + lag, _OK, _fee(first, cur))
        statement.add(ids, second, cur, t + lag + 60_000_000, _OK, _fee(second, cur, fixed=False))
        three = parts == 3
        statement.add(
            ids[three],
            third[three],
            cur[three],
            (t + lag)[three] + 120_000_000,
            _OK,
            _fee(third[three], cur[three], fixed=False),
        )
        counts[Category.MATCHED] += c
        if truth is not None:
            for r, p in zip(refs, parts.tolist(), strict=True):
                truth[(Category.MATCHED, (r,), (r,) * p)] += 1
    elif case is Case.BATCH:
        size = rng.integers(2, 5, c)
        members = int(size.sum())
        m_ids = np.arange(0, members, dtype=np.int64) + 10_000_000_000  # an id space of their own
        group = np.repeat(ids, size)
        m_amount = rng.integers(100, 200_000, members)
        m_cur = np.repeat(cur, size)
        m_t = np.repeat(t, size) + rng.integers(0, 3_600_000_000, members)
        internal.add(m_ids, m_amount, m_cur, m_t, _OK, group=-(group + 2))
        sums = np.add.reduceat(m_amount, np.concatenate([[0], np.cumsum(size)[:-1]]))
        fees = np.add.reduceat(_fee(m_amount, m_cur), np.concatenate([[0], np.cumsum(size)[:-1]]))
        statement.add(-(ids + 2), sums, cur, t + _DAY_US, _OK, fees)
        counts[Category.MATCHED] += c
        if truth is not None:
            start = 0
            for g, s in zip(ids.tolist(), size.tolist(), strict=True):
                i_refs = tuple(f"P{i:010d}" for i in m_ids[start : start + s].tolist())
                truth[(Category.MATCHED, i_refs, (f"B{g:010d}",))] += 1
                start += s
    elif case is Case.FAILED_UNSETTLED:
        internal.add(ids, amount, cur, t, _FAILED)
        note(Category.MATCHED, 1, 0)
    elif case is Case.AMOUNT_MISMATCH:
        delta = rng.integers(1000, 5000, c) * rng.choice([-1, 1], c)
        s_amount = np.where(amount + delta > 0, amount + delta, amount - delta)
        internal.add(ids, amount, cur, t, _OK)
        statement.add(ids, s_amount, cur, t + lag, _OK, _fee(s_amount, cur))
        note(Category.AMOUNT_MISMATCH, 1, 1)
    elif case is Case.FEE_VARIANCE:
        internal.add(ids, amount, cur, t, _OK)
        statement.add(ids, amount, cur, t + lag, _OK, _fee(amount, cur) + rng.integers(100, 500, c))
        note(Category.FEE_VARIANCE, 1, 1)
    elif case is Case.STATUS_MISMATCH:
        internal.add(ids, amount, cur, t, _FAILED if int(ids[0]) % 2 else _PENDING)
        statement.add(ids, amount, cur, t + lag, _OK, _fee(amount, cur))
        note(Category.STATUS_MISMATCH, 1, 1)
    elif case is Case.MISSING_STATEMENT:
        internal.add(ids, amount, cur, t, _OK)
        note(Category.MISSING_IN_STATEMENT, 1, 0)
    elif case is Case.MISSING_INTERNAL:
        statement.add(ids, amount, cur, t + lag, _OK, _fee(amount, cur))
        note(Category.MISSING_INTERNALLY, 0, 1)
    elif case is Case.OUT_OF_WINDOW:
        internal.add(ids, amount, cur, t, _OK)
        far = t + 3 * _DAY_US + rng.integers(0, 2 * _DAY_US, c)
        statement.add(ids, amount, cur, far, _OK, _fee(amount, cur))
        note(Category.MISSING_IN_STATEMENT, 1, 0)
        note(Category.MISSING_INTERNALLY, 0, 1)


def write_parquet(n: int, seed: int, directory: Path) -> SynthFiles:
    """Write ``internal.parquet`` and ``statement.parquet`` for :func:`generate` ``(n, seed)``."""
    directory.mkdir(parents=True, exist_ok=True)
    data = generate(n, seed, truth=False)
    paths = (directory / "internal.parquet", directory / "statement.parquet")
    for table, path in zip((data.internal, data.statement), paths, strict=True):
        tmp = path.with_suffix(".tmp")
        pq.write_table(table, tmp, row_group_size=1_000_000)
        tmp.replace(path)
    return SynthFiles(paths[0], paths[1], data.internal.num_rows, data.statement.num_rows, dict(data.counts))
