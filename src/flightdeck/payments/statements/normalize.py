"""From raw cells to statement records with :data:`~flightdeck.payments.records.RECORD_SCHEMA`.

:func:`read_statement` reads a file (:mod:`.readers`), finds the mapping's columns in its header
(:mod:`.mappings`), then converts one column at a time into plain Python lists that become Arrow
arrays: no object per row. Amounts go through a fast path for plain numbers (``1234.50``) and fall
back to :func:`~flightdeck.payments.money.to_minor` for anything else, which either accepts it
(``"1,234.50"``, ``"(12.50)"``) or gives the reason it is refused.

Every column stops at its first bad cell; the error reported is the earliest of those (by row, then
by the column's position in the file), so the user sees the first bad cell of the file, with the
line an editor shows and the column's header. A file with any bad cell yields nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import cast

import pyarrow as pa
import pyarrow.compute as pc

from flightdeck.config.payments import AmountUnit, StatementSourceConfig
from flightdeck.payments.errors import CurrencyError, StatementError
from flightdeck.payments.money import currency_exponent, is_currency, to_minor
from flightdeck.payments.records import RECORD_SCHEMA
from flightdeck.payments.statements.mappings import EffectiveMapping, StatementField, effective_mapping
from flightdeck.payments.statements.readers import Cell, RawTable, detect_format, read_raw

__all__ = ["read_statement"]

F = StatementField
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


@dataclass(frozen=True)
class _Bad:
    """The first bad cell of one column: row index, column position, header, reason."""

    index: int
    position: int
    column: str
    reason: str


class _Column:
    """The header(s) that feed one field, and their cells (first non-empty wins)."""

    def __init__(self, headers: list[str], raw: RawTable) -> None:
        self.headers = headers
        self.name = headers[0]
        self.position = raw.headers.index(headers[0])
        if len(headers) == 1:
            self.cells: Sequence[Cell] = raw.column(headers[0])
        else:
            lists = [raw.column(h) for h in headers]
            self.cells = [next((c for c in row if not _empty(c)), None) for row in zip(*lists, strict=True)]

    def bad(self, index: int, reason: str) -> _Bad:
        return _Bad(index, self.position, self.name, reason)


def _empty(cell: Cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _text(cell: Cell) -> str:
    """A cell as text; numbers become their digits. Raises ValueError for objects and booleans."""
    if isinstance(cell, str):
        return cell.strip()
    if isinstance(cell, bool) or not isinstance(cell, int | Decimal):
        raise ValueError(f"expected text, got {cell!r}")
    return str(cell)


def _resolve(raw: RawTable, mapping: EffectiveMapping, path: Path) -> dict[StatementField, _Column]:
    """Find each field's header(s); a missing required header is an error on line 1."""
    by_key: dict[str, str] = {}
    for header in raw.headers:
        by_key.setdefault(header.strip().lower(), header)
    present = ", ".join(repr(h) for h in raw.headers if h) or "none"

    def missing(name: str, why: str = "") -> StatementError:
        return StatementError(path, raw.header_line, name, f"missing column{why}; the headers are {present}")

    found: dict[StatementField, _Column] = {}
    for fld, candidates in mapping.columns.items():
        headers = [by_key[c.strip().lower()] for c in candidates if c.strip().lower() in by_key]
        for h in headers:
            if h.strip().lower() in raw.duplicates:
                raise StatementError(path, raw.header_line, h, "this header appears more than once")
        if headers:
            found[fld] = _Column(list(dict.fromkeys(headers)), raw)
        elif fld in mapping.required:
            raise missing(candidates[0])
    if F.REFERENCE not in found:
        raise missing(mapping.columns.get(F.REFERENCE, ("reference",))[0])
    if F.AMOUNT not in found and F.DEBIT not in found and F.CREDIT not in found:
        names = mapping.columns.get(F.AMOUNT, ()) + mapping.columns.get(F.CREDIT, ())
        raise missing(names[0] if names else "amount")
    if F.OCCURRED_AT not in found:
        raise missing(mapping.columns.get(F.OCCURRED_AT, ("occurred_at",))[0], " (a date column is needed)")
    if F.CURRENCY not in found and mapping.default_currency is None:
        raise missing(
            mapping.columns.get(F.CURRENCY, ("currency",))[0], " and no default_currency is configured"
        )
    return found


def _texts(col: _Column, required: bool) -> tuple[list[str | None], _Bad | None]:
    out: list[str | None] = []
    for i, cell in enumerate(col.cells):
        if type(cell) is str:
            text = cell.strip()
            if text:
                out.append(text)
                continue
        if _empty(cell):
            if required:
                return out, col.bad(i, "empty cell; a value is required")
            out.append(None)
            continue
        try:
            out.append(_text(cell))
        except ValueError as exc:
            return out, col.bad(i, str(exc))
    return out, None


def _currencies(col: _Column | None, n: int, default: str | None) -> tuple[list[str | None], _Bad | None]:
    if col is None:
        return [default] * n, None
    known: dict[Cell, str] = {}
    out: list[str | None] = []
    for i, cell in enumerate(col.cells):
        code = known.get(cell) if isinstance(cell, str) else None
        if code is None:
            if _empty(cell):
                if default is None:
                    return out, col.bad(i, "empty cell; a currency is required (or set default_currency)")
                code = default
            else:
                try:
                    code = _text(cell).upper()
                except ValueError as exc:
                    return out, col.bad(i, str(exc))
                if not is_currency(code):
                    return out, col.bad(i, f"unknown currency {_text(cell)!r} (not an ISO 4217 code)")
            if isinstance(cell, str):
                known[cell] = code
        out.append(code)
    return out, None


def _statuses(col: _Column | None, n: int, mapping: EffectiveMapping) -> tuple[list[str], _Bad | None]:
    if col is None:
        return [mapping.default_status.value] * n, None
    table = mapping.statuses
    seen: dict[str, str] = {}
    out: list[str] = []
    for i, cell in enumerate(col.cells):
        if type(cell) is str:
            value = seen.get(cell)
            if value is not None:
                out.append(value)
                continue
        if _empty(cell):
            return out, col.bad(i, "empty cell; a status is required")
        raw = _text(cell) if isinstance(cell, str | int | Decimal) else repr(cell)
        status = table.get(raw.lower())
        if status is None:
            known = ", ".join(sorted(table))
            return out, col.bad(i, f"unknown status {raw!r}; known values: {known} (extend status_map)")
        if type(cell) is str:
            seen[cell] = status.value
        out.append(status.value)
    return out, None


_PLAIN = r"^\s*(?P<sign>[-+]?)(?P<whole>\d{1,15})(?:\.(?P<frac>\d{0,18}))?\s*$"


def _plain_amounts(cells: list[str], exponents: list[int | None], unit: AmountUnit) -> list[int | None]:
    """Vectorized minor units of the plain numbers (``-1234.5``) of a text column; ``None`` where a
    cell is anything else (empty, grouped, accounting negative, too many decimals, bad currency)."""
    parts = pc.extract_regex(pa.array(cells, pa.string()), _PLAIN)
    whole = pc.cast(pc.struct_field(parts, "whole"), pa.int64())
    frac = pc.struct_field(parts, "frac")
    frac_len = pc.cast(pc.utf8_length(frac), pa.int64())
    negative = pc.equal(pc.struct_field(parts, "sign"), "-")
    if unit is AmountUnit.MINOR:
        ok = pc.equal(frac_len, 0)
        value = whole
    else:
        exp = pa.array(exponents, pa.int64())
        ok = pc.less_equal(frac_len, exp)
        frac_int = pc.cast(pc.if_else(pc.equal(frac_len, 0), "0", frac), pa.int64())
        shift = pc.max_element_wise(pc.subtract(exp, frac_len), 0)
        ten = pa.scalar(10, pa.int64())
        try:  # checked: an amount beyond 64 bits must not wrap around silently
            value = pc.add_checked(
                pc.multiply_checked(whole, pc.power_checked(ten, exp)),
                pc.multiply_checked(frac_int, pc.power_checked(ten, shift)),
            )
        except pa.ArrowInvalid:
            return [None] * len(cells)  # every cell through to_minor, which names the bad one
    value = pc.if_else(negative, pc.negate(value), value)
    result: list[int | None] = pc.if_else(ok, value, pa.scalar(None, pa.int64())).to_pylist()
    return result


def _amounts(
    col: _Column, currencies: list[str | None], unit: AmountUnit, required: bool
) -> tuple[list[int | None], _Bad | None]:
    cells = col.cells
    n = len(cells)
    exponents: dict[str, int] = {}
    per_row: list[int | None] = []
    for code in currencies[:n]:
        if code is None:
            per_row.append(None)
            continue
        exp = exponents.get(code)
        if exp is None:
            exp = exponents[code] = currency_exponent(code)
        per_row.append(exp)
    per_row.extend([None] * (n - len(per_row)))
    texts = all(type(c) is str for c in cells)
    out: list[int | None] = [None] * n
    if texts:
        out = _plain_amounts(cast(list[str], list(cells)), per_row, unit)
    minor = unit is AmountUnit.MINOR
    for i in [i for i, v in enumerate(out) if v is None]:
        cell = cells[i]
        if type(cell) is int and minor:  # JSON integers in minor units (Paystack kobo)
            out[i] = cell
            continue
        if _empty(cell):
            if required:
                return out, col.bad(i, "empty cell; an amount is required")
            continue
        currency = currencies[i] if i < len(currencies) else None
        if currency is None:  # the currency cell of this row is bad: reported there
            continue
        try:
            if not isinstance(cell, str | int | Decimal) or isinstance(cell, bool):
                raise ValueError(f"{cell!r} is not a number")
            out[i] = to_minor(cell, currency, unit)
        except (ValueError, CurrencyError) as exc:
            return out, col.bad(i, str(exc))
    return out, None


def _dates(col: _Column, mapping: EffectiveMapping) -> tuple[list[int], _Bad | None]:
    zone, formats = mapping.timezone, mapping.date_formats
    cache: dict[str, int] = {}
    out: list[int] = []

    def parse(text: str) -> datetime:
        if not formats:
            return datetime.fromisoformat(text)
        for fmt in formats:
            try:
                return datetime.strptime(text, fmt)
            except ValueError:
                continue
        raise ValueError(f"{text!r} does not match the date format {' or '.join(formats)!r}")

    for i, cell in enumerate(col.cells):
        if _empty(cell):
            return out, col.bad(i, "empty cell; a date is required")
        if isinstance(cell, str):
            text = cell.strip()
            micros = cache.get(text)
            if micros is not None:
                out.append(micros)
                continue
            try:
                moment = parse(text)
            except ValueError as exc:
                reason = str(exc) if formats else f"{text!r} is not an ISO 8601 date (set date_format)"
                return out, col.bad(i, reason)
        elif isinstance(cell, datetime):
            moment = cell
        elif isinstance(cell, int) and not isinstance(cell, bool):  # JSON: Unix seconds (Stripe API)
            moment = datetime.fromtimestamp(cell, UTC)
        else:
            return out, col.bad(i, f"{cell!r} is not a date")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        micros = (moment - _EPOCH) // _US
        if isinstance(cell, str) and len(cache) < 100_000:
            cache[cell.strip()] = micros
        out.append(micros)
    return out, None


def _first(problems: list[_Bad | None]) -> _Bad | None:
    real = [p for p in problems if p is not None]
    return min(real, key=lambda p: (p.index, p.position)) if real else None


def _normalize(raw: RawTable, mapping: EffectiveMapping, path: Path, name: str) -> pa.Table:
    cols = _resolve(raw, mapping, path)
    n = len(raw)
    problems: list[_Bad | None] = []

    references, bad = _texts(cols[F.REFERENCE], required=True)
    problems.append(bad)
    group_refs: list[str | None] = [None] * n
    if F.GROUP_REF in cols:
        group_refs, bad = _texts(cols[F.GROUP_REF], required=False)
        problems.append(bad)
    currencies, bad = _currencies(cols.get(F.CURRENCY), n, mapping.default_currency)
    problems.append(bad)
    statuses, bad = _statuses(cols.get(F.STATUS), n, mapping)
    problems.append(bad)
    occurred, bad = _dates(cols[F.OCCURRED_AT], mapping)
    problems.append(bad)

    unit = mapping.amount_unit
    if F.AMOUNT in cols:
        amounts, bad = _amounts(cols[F.AMOUNT], currencies, unit, required=True)
        problems.append(bad)
    else:  # a bank statement: amount = credit - debit, each read as a magnitude
        nothing: list[int | None] = [None] * n
        credit, debit = nothing, nothing
        if F.CREDIT in cols:
            credit, bad = _amounts(cols[F.CREDIT], currencies, unit, required=False)
            problems.append(bad)
        if F.DEBIT in cols:
            debit, bad = _amounts(cols[F.DEBIT], currencies, unit, required=False)
            problems.append(bad)
        amounts = [
            None if c is None and d is None else abs(c or 0) - abs(d or 0)
            for c, d in zip(credit, debit, strict=False)
        ]
        where = cols.get(F.DEBIT) or cols[F.CREDIT]
        for i, value in enumerate(amounts):
            if value is None and currencies[i] is not None:
                problems.append(where.bad(i, "empty cell; a debit or a credit is required"))
                break
    fees: list[int | None] = [None] * n
    nets: list[int | None] = [None] * n
    if F.FEE in cols:
        fees, bad = _amounts(cols[F.FEE], currencies, unit, required=False)
        problems.append(bad)
    if F.NET in cols:
        nets, bad = _amounts(cols[F.NET], currencies, unit, required=False)
        problems.append(bad)

    first = _first(problems)
    if first is not None:
        raise StatementError(path, raw.lines[first.index], first.column, first.reason)
    if raw.stop is not None:
        raise raw.stop

    fees = [
        a - nt if f is None and nt is not None and a is not None else f
        for a, f, nt in zip(amounts, fees, nets, strict=True)
    ]
    nets = [
        a - f if nt is None and f is not None and a is not None else nt
        for a, f, nt in zip(amounts, fees, nets, strict=True)
    ]
    arrays = [
        pa.array(raw.lines, pa.int64()),
        pa.array([name] * n, pa.string()),
        pa.array(references, pa.string()),
        pa.array(group_refs, pa.string()),
        pa.array(amounts, pa.int64()),
        pa.array(fees, pa.int64()),
        pa.array(nets, pa.int64()),
        pa.array(currencies, pa.string()),
        pa.array(statuses, pa.string()),
        pa.array(occurred, pa.int64()).view(pa.timestamp("us", tz="UTC")),
    ]
    return pa.Table.from_arrays(arrays, schema=RECORD_SCHEMA)


def read_statement(path: Path, source: StatementSourceConfig, *, display_name: str | None = None) -> pa.Table:
    """Read one statement file into a table with exactly ``RECORD_SCHEMA``.

    ``source`` names the mapping and the user's overrides; ``display_name`` (default: the file's
    name) fills the ``source`` column. Raises :class:`StatementError` for the first bad cell (with
    its line and column), a missing header (line 1), or a configuration that cannot describe the file.
    """
    path = Path(path)
    try:
        mapping = effective_mapping(source)
    except ValueError as exc:
        raise StatementError(path, None, None, str(exc)) from None
    fmt = detect_format(path, source.format)
    try:
        raw = read_raw(path, fmt, delimiter=source.delimiter, sheet=source.sheet)
    except OSError as exc:
        raise StatementError(path, None, None, f"cannot read the file: {exc.strerror or exc}") from None
    return _normalize(raw, mapping, path, display_name or path.name)
