"""Exact, currency-aware amounts: integer minor units, never floats.

An amount is held as an ``int`` in the currency's minor unit (cents for EUR, kobo for NGN, fils for
KWD, whole yen for JPY). How many digits a currency has after the point (its *exponent*) comes from
the ISO 4217 data shipped with Babel (CLDR), not from a table kept here; codes Babel does not know
are refused with :class:`~flightdeck.payments.errors.CurrencyError`.

- :func:`to_minor` turns what a statement or a database holds (``"1,234.50"``, ``"(12.50)"``,
  ``1250``, ``Decimal("12.5")``) into minor units, refusing floats, non-numbers and more decimals
  than the currency has; its ``ValueError`` message is the reason a user reads.
- :func:`format_minor` renders minor units for people: ``1,234.50 EUR``, ``1,000 JPY``.
- :class:`Totals` sums per currency; it adds amounts of different currencies only through
  :func:`convert`, with explicit rates (``Decimal``, rounded half to even).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache

from babel.numbers import get_currency_precision, list_currencies

from flightdeck.config.payments import AmountUnit
from flightdeck.payments.errors import CurrencyError

__all__ = [
    "Totals",
    "convert",
    "currency_exponent",
    "describe_minor",
    "format_minor",
    "is_currency",
    "to_minor",
]

_CODE = re.compile(r"[A-Z]{3}")
# Digits, optionally grouped by thousands with commas ("1,234,567"), optionally a fraction.
_NUMBER = re.compile(r"(?P<int>\d+|\d{1,3}(?:,\d{3})+)(?:\.(?P<frac>\d*))?|\.(?P<only>\d+)")
_KNOWN: frozenset[str] = frozenset(list_currencies())


def is_currency(code: str) -> bool:
    """Whether ``code`` (upper case) is an ISO 4217 code known to Babel."""
    return code in _KNOWN


@lru_cache(maxsize=512)
def currency_exponent(code: str) -> int:
    """Digits after the point in ``code`` (ISO 4217 minor units): EUR 2, JPY 0, KWD 3."""
    upper = code.strip().upper()
    if not _CODE.fullmatch(upper) or upper not in _KNOWN:
        raise CurrencyError(f"unknown currency {code!r} (not an ISO 4217 code)")
    return int(get_currency_precision(upper))


def _parse_text(text: str) -> Decimal:
    """``"1,234.50"``, ``"-12.5"``, ``"+3"``, ``"(12.50)"`` (accounting negative) -> Decimal."""
    s = text.strip()
    negative = False
    if s.startswith("(") and s.endswith(")"):
        negative, s = True, s[1:-1].strip()
    if s[:1] in ("-", "+"):
        if negative:
            raise ValueError(f"{text!r} is not a number")
        negative, s = s[0] == "-", s[1:].lstrip()
    match = _NUMBER.fullmatch(s)
    if match is None:
        raise ValueError(f"{text!r} is not a number")
    if match["only"] is not None:
        whole, frac = "0", match["only"]
    else:
        whole, frac = match["int"].replace(",", ""), match["frac"] or ""
    value = Decimal(f"{whole}.{frac}" if frac else whole)
    return -value if negative else value


def _decimals(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite, checked by the caller
    return max(0, -exponent)


MAX_MINOR = 2**63 - 1  # amounts are stored as signed 64-bit integers of minor units


def to_minor(value: str | int | Decimal, currency: str, unit: AmountUnit = AmountUnit.MAJOR) -> int:
    """``value`` in ``currency`` as an integer number of minor units.

    ``unit`` says whether ``value`` is in major units (``12.50`` EUR) or already in minor units
    (``1250``). Raises ``ValueError`` with a reason a user can act on (a float, not a number, more
    decimals than the currency allows, beyond 64 bits) and :class:`CurrencyError` for an unknown
    currency.
    """
    minor = _to_minor(value, currency, unit)
    if abs(minor) > MAX_MINOR:
        raise ValueError(f"{value} {currency.strip().upper()} is too large (beyond 64-bit minor units)")
    return minor


def _to_minor(value: str | int | Decimal, currency: str, unit: AmountUnit = AmountUnit.MAJOR) -> int:
    exponent = currency_exponent(currency)
    code = currency.strip().upper()
    if isinstance(value, bool | float):
        raise ValueError(f"{value!r} is a binary float; amounts must be text, integers or Decimal")
    if isinstance(value, int):
        return value if unit is AmountUnit.MINOR else value * 10**exponent
    if isinstance(value, str):
        number = _parse_text(value)
        shown = value.strip()
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a number")
        number, shown = value, str(value)
    else:
        raise ValueError(f"{value!r} is not a number")
    if unit is AmountUnit.MINOR:
        if number != number.to_integral_value():
            raise ValueError(f"{shown} is not a whole number of minor units of {code}")
        return int(number)
    if _decimals(number.normalize()) > exponent:
        raise ValueError(f"{shown} has more decimals than {code} allows ({exponent})")
    try:
        return int(number.scaleb(exponent))
    except InvalidOperation as exc:  # pragma: no cover - only absurdly large exponents
        raise ValueError(f"{shown} is out of range") from exc


def format_minor(minor: int, currency: str) -> str:
    """``123450, "EUR"`` -> ``"1,234.50 EUR"``; ``1000, "JPY"`` -> ``"1,000 JPY"``."""
    exponent = currency_exponent(currency)
    code = currency.strip().upper()
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**exponent)
    text = f"{whole:,}"
    if exponent:
        text += "." + str(frac).rjust(exponent, "0")
    return f"{sign}{text} {code}"


def describe_minor(minor: int, currency: str) -> str:
    """:func:`format_minor` for messages: never raises, an unknown currency is shown in minor units."""
    try:
        return format_minor(minor, currency)
    except CurrencyError:
        return f"{minor} {currency} (minor units)".strip()


def convert(minor: int, from_currency: str, to_currency: str, rates: Mapping[str, Decimal]) -> int:
    """``minor`` units of ``from_currency`` in minor units of ``to_currency``.

    ``rates`` maps a currency to its rate into one report currency (1 unit of it = rate units of the
    report currency), as ``ReconConfig.rates`` does; the report currency itself may be absent (rate 1).
    Conversion between two non-report currencies goes through the report currency. The result is
    rounded half to even, once, at the end.
    """
    source, target = from_currency.strip().upper(), to_currency.strip().upper()
    from_exp, to_exp = currency_exponent(source), currency_exponent(target)
    if source == target:
        return minor
    upper_rates = {k.strip().upper(): v for k, v in rates.items()}
    if source not in upper_rates:
        raise CurrencyError(f"no rate to convert {source} into {target}")
    rate = Decimal(upper_rates[source]) / Decimal(upper_rates.get(target, Decimal(1)))
    major = Decimal(minor).scaleb(-from_exp) * rate
    return int(major.scaleb(to_exp).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


class Totals:
    """Sums of minor units per currency.

    ``totals.add("EUR", 1250)``; ``totals["EUR"]``; ``totals.total()`` is the sum when only one
    currency was seen, and raises :class:`CurrencyError` naming the currencies otherwise, unless
    ``rates`` and ``into`` are given (each currency's sum is converted once, then added).
    """

    def __init__(self) -> None:
        self._sums: dict[str, int] = {}

    def add(self, currency: str, minor: int) -> None:
        code = currency.strip().upper()
        currency_exponent(code)
        self._sums[code] = self._sums.get(code, 0) + int(minor)

    def __getitem__(self, currency: str) -> int:
        return self._sums.get(currency.strip().upper(), 0)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._sums))

    def __len__(self) -> int:
        return len(self._sums)

    def items(self) -> list[tuple[str, int]]:
        return sorted(self._sums.items())

    def currencies(self) -> list[str]:
        return sorted(self._sums)

    def total(self, into: str | None = None, rates: Mapping[str, Decimal] | None = None) -> int:
        """The grand total in ``into`` (default: the single currency seen)."""
        if not self._sums:
            return 0
        if into is None:
            if len(self._sums) > 1:
                raise CurrencyError(
                    "cannot add amounts in " + ", ".join(self.currencies()) + " without exchange rates"
                )
            return next(iter(self._sums.values()))
        target = into.strip().upper()
        others = [c for c in self._sums if c != target]
        if others and not rates:
            raise CurrencyError(
                f"cannot add amounts in {', '.join(sorted(others))} to {target} without exchange rates"
            )
        return sum(convert(minor, code, target, rates or {}) for code, minor in self._sums.items())

    def formatted(self) -> list[str]:
        """``["1,234.50 EUR", "1,000 JPY"]``, one per currency."""
        return [format_minor(minor, code) for code, minor in self.items()]
