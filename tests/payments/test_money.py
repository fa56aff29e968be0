"""Exact money: ISO 4217 exponents, parsing into minor units, formatting, totals and conversion."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flightdeck.config.payments import AmountUnit
from flightdeck.payments.errors import CurrencyError
from flightdeck.payments.money import Totals, convert, currency_exponent, format_minor, to_minor

MAJOR, MINOR = AmountUnit.MAJOR, AmountUnit.MINOR


@pytest.mark.parametrize(
    ("code", "exponent"),
    [("EUR", 2), ("USD", 2), ("NGN", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3), ("eur", 2)],
)
def test_exponents_come_from_iso_4217(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent


@pytest.mark.parametrize("code", ["XYZ", "EURO", "", "12A", "ZZZ"])
def test_unknown_currency_codes_are_refused(code: str) -> None:
    with pytest.raises(CurrencyError, match="unknown currency"):
        currency_exponent(code)


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("1,234.50", "EUR", 123450),
        ("1234.5", "EUR", 123450),
        ("-12.5", "EUR", -1250),
        ("+3", "EUR", 300),
        ("(12.50)", "EUR", -1250),
        ("( 1,000.00 )", "USD", -100000),
        (".5", "EUR", 50),
        ("12.", "EUR", 1200),
        ("  7.00 ", "EUR", 700),
        ("1,000", "JPY", 1000),
        ("1000.00", "JPY", 1000),
        ("1.234", "KWD", 1234),
        ("0.001", "KWD", 1),
        ("12.340", "EUR", 1234),
    ],
)
def test_to_minor_parses_statement_text(text: str, currency: str, minor: int) -> None:
    assert to_minor(text, currency, MAJOR) == minor


def test_to_minor_accepts_ints_and_decimals_in_either_unit() -> None:
    assert to_minor(12, "EUR", MAJOR) == 1200
    assert to_minor(1250, "EUR", MINOR) == 1250
    assert to_minor("1250", "NGN", MINOR) == 1250
    assert to_minor(Decimal("12.5"), "EUR", MAJOR) == 1250
    assert to_minor(Decimal("1250"), "EUR", MINOR) == 1250
    assert to_minor(5, "JPY", MAJOR) == 5
    assert to_minor(5, "KWD", MAJOR) == 5000


def test_more_decimals_than_the_currency_has_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match=r"^12\.345 has more decimals than EUR allows \(2\)$"):
        to_minor("12.345", "EUR", MAJOR)
    with pytest.raises(ValueError, match=r"more decimals than JPY allows \(0\)"):
        to_minor("100.5", "jpy", MAJOR)
    with pytest.raises(ValueError, match=r"more decimals than KWD allows \(3\)"):
        to_minor(Decimal("1.2345"), "KWD", MAJOR)


def test_minor_units_must_be_whole() -> None:
    with pytest.raises(ValueError, match="not a whole number of minor units of EUR"):
        to_minor("12.5", "EUR", MINOR)


@pytest.mark.parametrize(
    "bad", ["", "abc", "12,50", "1,23,456.00", "1.2.3", "--5", "(-5)", "1e3", "$12", "NaN"]
)
def test_non_numbers_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="is not a number"):
        to_minor(bad, "EUR", MAJOR)


def test_floats_are_refused() -> None:
    with pytest.raises(ValueError, match="binary float"):
        to_minor(12.5, "EUR", MAJOR)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="is not a number"):
        to_minor(Decimal("NaN"), "EUR", MAJOR)


def test_unknown_currency_in_to_minor_is_a_currency_error() -> None:
    with pytest.raises(CurrencyError):
        to_minor("1.00", "ABC", MAJOR)


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (123450, "EUR", "1,234.50 EUR"),
        (5, "EUR", "0.05 EUR"),
        (-1250, "usd", "-12.50 USD"),
        (1000, "JPY", "1,000 JPY"),
        (1234567, "KWD", "1,234.567 KWD"),
        (0, "NGN", "0.00 NGN"),
    ],
)
def test_format_minor(minor: int, currency: str, text: str) -> None:
    assert format_minor(minor, currency) == text


@given(
    st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=2, allow_nan=False),
    st.sampled_from(["EUR", "USD", "NGN"]),
)
def test_formatting_a_decimal_round_trips_through_to_minor(value: Decimal, currency: str) -> None:
    minor = to_minor(value, currency, MAJOR)
    assert minor == int(value * 100)
    assert to_minor(format_minor(minor, currency).rsplit(" ", 1)[0], currency, MAJOR) == minor
    assert to_minor(f"{value:,}", currency, MAJOR) == minor
    accounting = f"({abs(value):,.2f})" if value < 0 else f"{value:.2f}"
    assert to_minor(accounting, currency, MAJOR) == minor


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(["JPY", "KWD", "EUR"]))
def test_format_minor_round_trips_for_every_exponent(minor: int, currency: str) -> None:
    assert to_minor(format_minor(minor, currency).rsplit(" ", 1)[0], currency, MAJOR) == minor


def test_totals_sum_per_currency_and_refuse_mixing_without_rates() -> None:
    totals = Totals()
    totals.add("eur", 1250)
    totals.add("EUR", -250)
    assert totals.total() == 1000
    totals.add("JPY", 500)
    assert totals["EUR"] == 1000
    assert totals["JPY"] == 500
    assert totals["USD"] == 0
    assert totals.currencies() == ["EUR", "JPY"]
    assert totals.formatted() == ["10.00 EUR", "500 JPY"]
    with pytest.raises(CurrencyError, match="EUR, JPY"):
        totals.total()
    with pytest.raises(CurrencyError, match="JPY to EUR without exchange rates"):
        totals.total(into="EUR")
    # 500 JPY at 0.0061 EUR/JPY = 3.05 EUR
    assert totals.total(into="EUR", rates={"JPY": Decimal("0.0061")}) == 1305
    with pytest.raises(CurrencyError, match="unknown currency"):
        totals.add("XYZ", 1)


def test_convert_is_exact_and_rounds_half_to_even() -> None:
    assert convert(1000, "EUR", "EUR", {}) == 1000
    assert convert(1000, "USD", "EUR", {"USD": Decimal("0.9")}) == 900
    # 1 JPY at 0.005 EUR = 0.5 cent -> 0 (half to even); 3 JPY = 1.5 cents -> 2
    assert convert(1, "JPY", "EUR", {"JPY": Decimal("0.005")}) == 0
    assert convert(3, "JPY", "EUR", {"JPY": Decimal("0.005")}) == 2
    # into a 3-decimal currency: 1.00 EUR at 0.33 KWD = 0.330 KWD
    assert convert(100, "EUR", "KWD", {"EUR": Decimal("0.33")}) == 330
    # cross rate through the report currency: USD 0.9, GBP 1.2 (both into EUR) -> 1 GBP = 1.3333 USD
    assert convert(300, "GBP", "USD", {"USD": Decimal("0.9"), "GBP": Decimal("1.2")}) == 400
    with pytest.raises(CurrencyError, match="no rate to convert USD into EUR"):
        convert(100, "USD", "EUR", {})


def test_amounts_beyond_64_bits_are_refused_not_wrapped() -> None:
    with pytest.raises(ValueError, match="too large"):
        to_minor("999999999999999.5", "CLF")
    assert to_minor("92233720368547.75", "EUR") == 9_223_372_036_854_775
