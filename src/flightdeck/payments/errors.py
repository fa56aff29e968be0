"""Errors of the payment-integrity domain (:mod:`flightdeck.payments`).

::

    FlightdeckError
    └── PaymentsError             (flightdeck.payments) payment integrity could not do its work
        ├── StatementError        a statement file is malformed: file, line and column of the first bad cell
        ├── CurrencyError         an unknown currency, or amounts in several currencies without a rate
        ├── ReconError            a reconciliation could not run (inputs unreadable, engine failure)
        ├── LedgerError           a ledger or its hash chain could not be read, anchored or signed
        │   └── LedgerTamperedError  the ledger no longer matches its chain: refused (e.g. an export)
        └── DrillError            a gateway fault drill could not be set up or driven

A failed *verdict* (exceptions found, a tampered ledger, a double charge) is not an error: it is
evidence with verdict ``fail``. These exceptions mean flightdeck could not measure at all.
"""

from __future__ import annotations

from pathlib import Path

from flightdeck.errors import FlightdeckError

__all__ = [
    "CurrencyError",
    "DrillError",
    "LedgerError",
    "LedgerTamperedError",
    "PaymentsError",
    "ReconError",
    "StatementError",
]


class PaymentsError(FlightdeckError):
    """Payment integrity could not do its work."""


class StatementError(PaymentsError):
    """A statement file is malformed. ``line`` is 1-based as an editor shows it (the header is line 1
    in CSV; the row number in Excel; the array index + 1 in JSON), ``column`` the column's header."""

    def __init__(self, path: str | Path, line: int | None, column: str | None, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.column = column
        self.reason = reason
        where = self.path
        if line is not None:
            where += f":{line}"
        if column is not None:
            where += f": column {column!r}"
        super().__init__(f"{where}: {reason}")


class CurrencyError(PaymentsError):
    """An unknown currency code, or amounts in several currencies that would have to be summed."""


class ReconError(PaymentsError):
    """A reconciliation could not run."""


class LedgerError(PaymentsError):
    """A ledger, its hash chain or its signing key could not be read or written."""


class LedgerTamperedError(LedgerError):
    """The ledger's rows, chain or checkpoint do not agree, so flightdeck refuses to vouch for it (an
    export is only ever of a verified ledger). The CLI exits 1, as for any failed verification."""


class DrillError(PaymentsError):
    """A gateway fault drill could not be set up or driven."""
