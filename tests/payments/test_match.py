"""The reconciliation matcher: each category by a hand-written case, options, inputs, seeded truth."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from flightdeck.config.payments import MatchConfig, Tolerance
from flightdeck.payments import synth
from flightdeck.payments.errors import CurrencyError, ReconError
from flightdeck.payments.recon import MatchItem, MatchResult, match
from flightdeck.payments.records import Category
from tests.payments.recon_helpers import Rec, internal, statement

DAY = 86400.0


def only(result: MatchResult, category: Category) -> MatchItem:
    items = [i for i in result.exceptions if i.category is category]
    assert len(items) == 1, result.exceptions
    return items[0]


def test_one_to_one_match_has_no_exceptions() -> None:
    r = match(internal(Rec("A", 1000)), statement(Rec("A", 1000, seconds=3600)), MatchConfig())
    assert r.exceptions == []
    assert r.matched_items == 1
    s = r.summary[Category.MATCHED]
    assert (s.items, s.internal_rows, s.statement_rows) == (1, 1, 1)
    assert dict(s.internal_amounts) == {"EUR": 1000}
    assert dict(s.statement_amounts) == {"EUR": 1000}
    assert r.engine.startswith("duckdb ")


def test_amount_mismatch_reason_names_both_amounts_and_tolerance() -> None:
    options = MatchConfig(tolerance=Tolerance(absolute=Decimal("0.50")))
    r = match(internal(Rec("B", 9800)), statement(Rec("B", 10000)), options)
    item = only(r, Category.AMOUNT_MISMATCH)
    assert item.reason == (
        "reference B: statement gross 100.00 EUR vs internal 98.00 EUR: differs by 2.00 EUR, tolerance 0.50 EUR"
    )
    assert (item.internal_minor, item.statement_minor, item.difference_minor) == (9800, 10000, 200)
    assert item.internal_rows == (("ledger", 1),)
    assert item.statement_rows == (("gateway.csv", 1),)
    assert r.matched_items == 0


def test_fee_variance_against_the_expected_fee() -> None:
    options = MatchConfig(
        expected_fee_percent=Decimal("2.9"),
        expected_fee_fixed=Decimal("0.30"),
        fee_tolerance=Tolerance(absolute=Decimal("0.10")),
    )
    ok = match(internal(Rec("F", 10000)), statement(Rec("F", 10000, fee=320)), options)
    assert ok.exceptions == []
    r = match(internal(Rec("F", 10000)), statement(Rec("F", 10000, fee=350)), options)
    item = only(r, Category.FEE_VARIANCE)
    assert item.reason == (
        "reference F: statement fee 3.50 EUR vs expected 3.20 EUR (2.9% of 100.00 EUR + 0.30 EUR per payment): "
        "differs by 0.30 EUR, fee tolerance 0.10 EUR"
    )
    assert (item.internal_minor, item.statement_minor, item.difference_minor) == (320, 350, 30)


def test_fee_given_only_as_net_is_derived() -> None:
    options = MatchConfig(expected_fee_percent=Decimal("2.9"))
    r = match(internal(Rec("N", 10000)), statement(Rec("N", 10000, net=9600)), options)
    assert only(r, Category.FEE_VARIANCE).statement_minor == 400


def test_missing_in_statement_and_missing_internally() -> None:
    r = match(internal(Rec("D", 700)), statement(Rec("X", 50, fee=2)), MatchConfig())
    assert (
        only(r, Category.MISSING_IN_STATEMENT).reason
        == "internal succeeded row D of 7.00 EUR has no statement row"
    )
    item = only(r, Category.MISSING_INTERNALLY)
    assert item.reason == "statement succeeded row X of 0.50 EUR has no internal payment"
    assert (item.internal_minor, item.statement_minor, item.difference_minor) == (None, 50, None)


def test_failed_internal_without_statement_is_consistent() -> None:
    r = match(internal(Rec("H", 100, status="failed")), statement(), MatchConfig(), include_matched=True)
    assert r.exceptions == []
    assert (
        r.matched[0].reason
        == "internal failed payment H of 1.00 EUR has no statement row: nothing settled, as expected"
    )


def test_status_mismatch_takes_precedence_over_amount() -> None:
    r = match(internal(Rec("C", 500, status="failed")), statement(Rec("C", 900)), MatchConfig())
    item = only(r, Category.STATUS_MISMATCH)
    assert item.reason == (
        "reference C: internal status failed but statement status succeeded (internal 5.00 EUR, statement 9.00 EUR)"
    )


def test_duplicates_on_either_side() -> None:
    r = match(
        internal(Rec("G", 900), Rec("G", 900), Rec("K", 100), Rec("K", 100, seconds=300)),
        statement(Rec("G", 900), Rec("K", 100), Rec("K", 100)),
        MatchConfig(),
    )
    dups = [i for i in r.exceptions if i.category is Category.DUPLICATE]
    assert sorted((i.internal_rows, i.statement_rows) for i in dups) == [
        ((), (("gateway.csv", 3),)),
        ((("ledger", 2),), ()),
        ((("ledger", 4),), ()),
    ]
    reasons = {i.internal_rows + i.statement_rows: i.reason for i in dups}
    assert reasons[(("ledger", 2),)] == (
        "internal row repeats an identical earlier row: reference G, 9.00 EUR, succeeded, 2026-11-20T10:00:00Z"
    )
    assert reasons[(("ledger", 4),)].startswith(
        "another internal succeeded payment with reference K (1.00 EUR)"
    )
    assert r.matched_items == 2
    assert r.summary[Category.DUPLICATE].items == 3


def test_failed_retry_of_a_settled_reference_is_not_a_duplicate() -> None:
    r = match(
        internal(Rec("R", 100, status="failed", seconds=-60), Rec("R", 100)),
        statement(Rec("R", 100)),
        MatchConfig(),
    )
    assert r.exceptions == []
    assert r.matched_items == 2


@pytest.mark.parametrize(
    ("absolute", "percent", "category"),
    [
        ("0.50", "0", Category.AMOUNT_MISMATCH),
        ("0", "2", Category.MATCHED),  # 2% of 100.00 allows 2.00
        ("0", "1.9", Category.AMOUNT_MISMATCH),
        ("2.50", "1", Category.MATCHED),  # the larger allowance wins
        ("2.00", "0", Category.MATCHED),
    ],
)
def test_tolerance_absolute_or_percent(absolute: str, percent: str, category: Category) -> None:
    options = MatchConfig(tolerance=Tolerance(absolute=Decimal(absolute), percent=Decimal(percent)))
    r = match(internal(Rec("T", 10000)), statement(Rec("T", 10200)), options, include_matched=True)
    assert [i.category for i in r.exceptions + r.matched] == [category]


def test_tolerance_in_a_currency_without_minor_units() -> None:
    options = MatchConfig(tolerance=Tolerance(absolute=Decimal("5")))
    r = match(internal(Rec("Y", 1000, currency="JPY")), statement(Rec("Y", 1010, currency="JPY")), options)
    assert only(r, Category.AMOUNT_MISMATCH).reason == (
        "reference Y: statement gross 1010 JPY vs internal 1000 JPY: differs by 10 JPY, tolerance 5 JPY"
    )


def test_date_window() -> None:
    inside = match(
        internal(Rec("W", 100)), statement(Rec("W", 100, seconds=DAY)), MatchConfig(date_window=2 * DAY)
    )
    assert inside.exceptions == []
    r = match(
        internal(Rec("W", 100)), statement(Rec("W", 100, seconds=3 * DAY)), MatchConfig(date_window=2 * DAY)
    )
    assert only(r, Category.MISSING_IN_STATEMENT).reason == (
        "internal succeeded row W of 1.00 EUR has no statement row; the statement has this reference 3d away, "
        "beyond the date window of 2d"
    )
    assert only(r, Category.MISSING_INTERNALLY).reason.endswith(
        "the internal records have this reference 3d away, beyond the date window of 2d"
    )


def test_split_settlement() -> None:
    lines = statement(Rec("S", 600), Rec("S", 300, seconds=60), Rec("S", 100, seconds=120))
    r = match(internal(Rec("S", 1000)), lines, MatchConfig(), include_matched=True)
    assert r.exceptions == []
    assert r.matched[0].statement_rows == (("gateway.csv", 1), ("gateway.csv", 2), ("gateway.csv", 3))
    assert (
        r.matched[0].reason
        == "reference S settled in 3 statement lines: statement gross 10.00 EUR matches internal 10.00 EUR"
    )

    short = match(
        internal(Rec("S", 1000)), statement(Rec("S", 600), Rec("S", 300, seconds=60)), MatchConfig()
    )
    assert only(short, Category.AMOUNT_MISMATCH).reason == (
        "reference S settled in 2 statement lines: statement gross 9.00 EUR vs internal 10.00 EUR: "
        "differs by 1.00 EUR, no tolerance"
    )


def test_split_off_pairs_the_closest_line_and_flags_the_rest() -> None:
    lines = statement(Rec("S", 600), Rec("S", 1000, seconds=60))
    r = match(internal(Rec("S", 1000)), lines, MatchConfig(split=False))
    assert r.matched_items == 1
    item = only(r, Category.DUPLICATE)
    assert item.statement_rows == (("gateway.csv", 1),)
    assert "split matching is off" in item.reason


def test_batched_payout() -> None:
    payments = internal(
        Rec("P1", 100, group_ref="B1"), Rec("P2", 200, group_ref="B1"), Rec("P3", 300, group_ref="B1")
    )
    payout = statement(Rec("B1", 600, seconds=DAY))
    r = match(payments, payout, MatchConfig(), include_matched=True)
    assert r.exceptions == []
    (item,) = r.matched
    assert item.internal_refs == ("P1", "P2", "P3")
    assert item.statement_refs == ("B1",)
    assert (
        item.reason == "batch B1 of 3 internal payments: statement gross 6.00 EUR matches internal 6.00 EUR"
    )
    s = r.summary[Category.MATCHED]
    assert (s.items, s.internal_rows, s.statement_rows) == (1, 3, 1)

    short = match(payments, statement(Rec("B1", 500, seconds=DAY)), MatchConfig())
    assert only(short, Category.AMOUNT_MISMATCH).difference_minor == -100

    off = match(payments, payout, MatchConfig(batch=False))
    assert off.summary[Category.MISSING_IN_STATEMENT].items == 3
    assert off.summary[Category.MISSING_INTERNALLY].items == 1


def test_net_compare_uses_the_expected_fee() -> None:
    options = MatchConfig(compare="net", expected_fee_percent=Decimal("2.5"))
    ok = match(internal(Rec("N", 10000)), statement(Rec("N", 10000, net=9750)), options)
    assert ok.exceptions == []
    r = match(internal(Rec("N", 10000)), statement(Rec("N", 10000, net=9500)), options)
    item = only(r, Category.AMOUNT_MISMATCH)
    assert item.reason.startswith("reference N: statement net 95.00 EUR vs internal 97.50 EUR")
    assert (item.internal_minor, item.statement_minor) == (9750, 9500)


def test_mixed_currency_is_an_amount_mismatch() -> None:
    r = match(internal(Rec("M", 1000)), statement(Rec("M", 1000, currency="USD")), MatchConfig())
    item = only(r, Category.AMOUNT_MISMATCH)
    assert item.reason == "reference M: currencies differ: internal EUR vs statement USD"
    assert item.currency is None
    assert dict(r.summary[Category.AMOUNT_MISMATCH].statement_amounts) == {"USD": 1000}


@pytest.mark.parametrize(("n", "seed"), [(40, 1), (300, 7), (3000, 11), (20000, 3)])
def test_result_equals_the_seeded_truth(n: int, seed: int) -> None:
    data = synth.generate(n, seed)
    everything = match(data.internal, data.statement, synth.match_config(), include_matched=True)
    got = Counter(i.truth_key for i in everything.exceptions + everything.matched)
    assert got == data.truth
    assert {c: s.items for c, s in everything.summary.items()} == {c: data.counts.get(c, 0) for c in Category}

    exceptions_only = match(data.internal, data.statement, synth.match_config())
    assert exceptions_only.exceptions == everything.exceptions
    assert exceptions_only.summary == everything.summary
    assert exceptions_only.matched == []
    for category in Category:
        assert data.counts[category] > 0, f"synth seeds no {category}"


def test_file_inputs_give_the_same_result(tmp_path: Path) -> None:
    data = synth.generate(500, 5)
    arrow = match(data.internal, data.statement, synth.match_config())
    pq.write_table(data.internal, tmp_path / "internal.parquet")
    pacsv.write_csv(data.statement, tmp_path / "statement.csv")
    files = match(tmp_path / "internal.parquet", str(tmp_path / "statement.csv"), synth.match_config())
    assert files.exceptions == arrow.exceptions
    assert files.summary == arrow.summary


def test_resource_limits_are_applied(tmp_path: Path) -> None:
    data = synth.generate(2000, 9)
    plain = match(data.internal, data.statement, synth.match_config())
    bounded = match(
        data.internal,
        data.statement,
        synth.match_config(),
        memory_limit="256MB",
        threads=1,
        temp_dir=tmp_path,
    )
    assert bounded.exceptions == plain.exceptions


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(ReconError, match="no such file"):
        match(tmp_path / "nope.parquet", statement(), MatchConfig())
    with pytest.raises(ReconError, match="lack column"):
        match(pa.table({"reference": ["A"]}), statement(), MatchConfig())
    with pytest.raises(CurrencyError, match="XYZ"):
        match(internal(Rec("A", 1, currency="XYZ")), statement(), MatchConfig())
    with pytest.raises(ReconError, match="engine could not start"):
        match(internal(Rec("A", 1)), statement(), MatchConfig(), memory_limit="not-a-size")
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "row,source,reference,group_ref,amount_minor,fee_minor,net_minor,currency,status,occurred_at\n"
        "1,s,A,,twelve,,,EUR,succeeded,2026-11-20T10:00:00Z\n"
    )
    with pytest.raises(ReconError, match="engine failed"):
        match(internal(Rec("A", 1)), bad, MatchConfig())


def test_observation() -> None:
    r = match(internal(Rec("A", 100), Rec("D", 700)), statement(Rec("A", 100), Rec("X", 5)), MatchConfig())
    obs = r.observation()
    values = {m.name: m.value for m in obs.measurements}
    assert values["matched_items"] == 1
    assert values["exception_items"] == 2
    assert values["missing_in_statement_items"] == 1
    assert sorted(obs.failures) == ["1 missing_in_statement item(s)", "1 missing_internally item(s)"]
    assert obs.detail["exceptions_omitted"] == 0
    assert len(obs.detail["exceptions"]) == 2  # type: ignore[arg-type]
