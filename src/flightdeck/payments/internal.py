"""Reading the team's own payments for a reconciliation: one read-only query on a datasource.

The query (``payments.reconciliations.NAME.internal.query``) returns columns named ``reference``,
``amount``, ``currency``, ``status``, ``occurred_at`` and optionally ``fee``, ``net`` and
``group_ref``. Before it runs, these placeholders are replaced by the reconciled day's bounds (UTC),
which flightdeck computes itself (never user text):

- ``:start`` / ``:end``: quoted timestamps, ``'2026-11-22 00:00:00'`` and ``'2026-11-23 00:00:00'``
  (with ``+00`` on PostgreSQL, so the session's TimeZone cannot shift the day; on MySQL/MariaDB
  they compare with DATETIME columns as written, and TIMESTAMP columns as the session time zone
  shows them);
- ``:start_epoch`` / ``:end_epoch``: Unix seconds, for tables that keep times as numbers.

The database keeps the query read-only (see :mod:`flightdeck.datasources`). Rows become an Arrow
table with :data:`~flightdeck.payments.records.RECORD_SCHEMA`; a bad row raises
:class:`~flightdeck.payments.errors.ReconError` naming the row (1-based, in result order) and column.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from flightdeck.config.models import Config
from flightdeck.config.payments import InternalSourceConfig
from flightdeck.datasources import DatabaseUrl, DatasourceError, Dialect, read_only_query
from flightdeck.payments.errors import CurrencyError, ReconError
from flightdeck.payments.money import to_minor
from flightdeck.payments.records import RECORD_SCHEMA, status_lookup

__all__ = ["MAX_INTERNAL_ROWS", "day_bounds", "internal_records", "records_from_rows"]

MAX_INTERNAL_ROWS = 5_000_000
_REQUIRED = ("reference", "amount", "status", "occurred_at")
_PLACEHOLDER = re.compile(r":(start_epoch|end_epoch|start|end)\b")


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0, 0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def _bind(sql: str, start: datetime, end: datetime, dialect: Dialect) -> str:
    # PostgreSQL reads an offset-less literal in the session's TimeZone: say UTC explicitly.
    zone = "+00" if dialect is Dialect.POSTGRESQL else ""
    values = {
        "start": f"'{start:%Y-%m-%d %H:%M:%S}{zone}'",
        "end": f"'{end:%Y-%m-%d %H:%M:%S}{zone}'",
        "start_epoch": str(int(start.timestamp())),
        "end_epoch": str(int(end.timestamp())),
    }
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], sql)


def _when(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0, 0), tzinfo=UTC)
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), tz=UTC)
    if isinstance(value, str):
        text = value.strip()
        try:
            return datetime.fromtimestamp(float(text), tz=UTC)
        except ValueError:
            pass
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise ValueError(f"not a time: {value!r}")


def records_from_rows(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], source: InternalSourceConfig, label: str
) -> pa.Table:
    """Turn query rows into a RECORD_SCHEMA table. Raises ReconError naming the first bad row."""
    index = {c.lower(): i for i, c in enumerate(columns)}
    missing = [c for c in _REQUIRED if c not in index]
    if "currency" not in index and source.default_currency is None:
        missing.append("currency (or internal.default_currency)")
    if missing:
        raise ReconError(
            f"{label}: the internal query returns no column {', '.join(missing)} "
            f"(it returns {', '.join(columns) or 'nothing'})"
        )
    statuses = status_lookup(source.status_map)
    out: dict[str, list[Any]] = {f.name: [] for f in RECORD_SCHEMA}

    def cell(row: Sequence[Any], name: str) -> Any:
        i = index.get(name)
        return None if i is None else row[i]

    for n, row in enumerate(rows, start=1):
        column = ""
        try:
            column = "currency"
            currency = str(cell(row, "currency") or source.default_currency or "").strip().upper()
            column = "reference"
            reference = cell(row, "reference")
            if reference is None or str(reference).strip() == "":
                raise ValueError("empty reference")
            column = "amount"
            amount = to_minor(_exact(cell(row, "amount")), currency, source.amount_unit)
            column = "fee"
            raw_fee = cell(row, "fee")
            fee = None if raw_fee is None else to_minor(_exact(raw_fee), currency, source.amount_unit)
            column = "net"
            raw_net = cell(row, "net")
            net = None if raw_net is None else to_minor(_exact(raw_net), currency, source.amount_unit)
            if net is None and fee is not None:
                net = amount - fee
            column = "status"
            raw_status = str(cell(row, "status") or "").strip().lower()
            if raw_status not in statuses:
                raise ValueError(f"unknown status {raw_status!r} (map it with internal.status_map)")
            column = "occurred_at"
            occurred = _when(cell(row, "occurred_at"))
            group = cell(row, "group_ref")
        except (ValueError, CurrencyError, ArithmeticError) as exc:
            raise ReconError(f"{label}: row {n}, column {column!r}: {exc}") from exc
        out["row"].append(n)
        out["source"].append(label)
        out["reference"].append(str(reference).strip())
        out["group_ref"].append(None if group is None or str(group).strip() == "" else str(group).strip())
        out["amount_minor"].append(amount)
        out["fee_minor"].append(fee)
        out["net_minor"].append(net)
        out["currency"].append(currency)
        out["status"].append(statuses[raw_status].value)
        out["occurred_at"].append(occurred)
    return pa.Table.from_pydict(out, schema=RECORD_SCHEMA)


def _exact(value: Any) -> str | int | Decimal:
    """Amounts from drivers: int, Decimal or text. A float (SQLite REAL) is taken through its
    shortest repr, which is exact for amounts a person typed (12.5 -> "12.5")."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not an amount: {value!r}")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int | Decimal | str):
        return value
    raise ValueError(f"not an amount: {value!r}")


async def internal_records(
    config: Config, source: InternalSourceConfig, day: date, *, statement_timeout: float = 300.0
) -> pa.Table:
    """Run the internal query for ``day`` and return its rows as a RECORD_SCHEMA table."""
    ds = config.datasources.get(source.datasource)
    if ds is None:
        raise ReconError(
            f"no datasource {source.datasource!r} (datasources: {', '.join(config.datasources) or 'none'})"
        )
    label = f"datasource:{source.datasource}"
    start, end = day_bounds(day)
    url = DatabaseUrl.parse(ds.url.reveal())
    try:
        result = await read_only_query(
            url,
            _bind(source.query, start, end, url.dialect),
            max_rows=MAX_INTERNAL_ROWS,
            connect_timeout=ds.connect_timeout,
            statement_timeout=statement_timeout,
        )
    except DatasourceError as exc:
        raise ReconError(f"{label}: {exc.reason}") from exc
    if result.more_rows:
        raise ReconError(
            f"{label}: the internal query returns more than {MAX_INTERNAL_ROWS:,} rows for {day}; "
            "reconcile from an exported file instead (see docs/payments/scale.md)"
        )
    # Converting up to millions of rows is CPU-bound: off the event loop.
    return await asyncio.to_thread(records_from_rows, result.columns, result.rows, source, label)
