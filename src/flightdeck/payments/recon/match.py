"""The reconciliation matcher: internal records vs a gateway statement, in SQL on DuckDB.

Both inputs are tables with :data:`~flightdeck.payments.records.RECORD_SCHEMA` (Arrow tables, or
Parquet / CSV files already in that schema). The matching itself is plain SQL in
``flightdeck/payments/recon/sql/`` (stages ``01_prepare.sql`` ... ``05_extract.sql``, then the
``q_*.sql`` queries), run against tables named ``internal`` and ``statement`` plus three small
parameter tables this module fills:

* ``recon_options`` (one row, :func:`options_row`): ``window_us`` (date window, microseconds),
  ``amount_tol_ppm`` / ``fee_tol_ppm`` (percentage tolerances in millionths), ``fee_rate_ppm``
  (expected fee rate), ``fee_check``, ``compare_net``, ``split_on``, ``batch_on``, ``keep_matched``
  (0 or 1);
* ``recon_currency`` (one row per currency): ``amount_abs_minor``, ``fee_abs_minor``,
  ``fee_fixed_minor`` (the absolute tolerances and fixed fee of :class:`MatchConfig`, given in major
  units, converted with the currency's ISO 4217 exponent; tolerances rounded down);
* ``recon_wanted``: the categories whose items are listed.

Only the full outer join of the two sides (``recon_pv``) touches every row, and it is read twice:
once to count the clean one-to-one matches, once to keep everything else, which is small. That is
what keeps 10 million rows per side within a minute and a few GB (``bench/recon_10m.py``).

Rules, in order of precedence (each input row lands in exactly one item, each item in one category):

1. **Copies.** A row identical to an earlier row of its side (reference, group_ref, amount, fee, net,
   currency, status, occurred_at; "earlier" by source then row) is a ``duplicate`` item of its own.
2. **Primary row.** Of the internal rows sharing a reference, one is primary (succeeded, refunded,
   pending, failed in that order; then earliest; then source, row). Each further row is a
   ``duplicate`` item if it succeeded or was refunded (a second payment under one reference) and a
   ``matched`` item if it is pending or failed (an attempt that settled nothing).
3. **By reference** (one-to-one, and one-to-many "split"). Statement rows with the primary row's
   reference and a time within ``date_window`` of it form a group with it. With ``split`` off only the
   closest one (amount, then time) joins; the others are ``duplicate`` items.
4. **Batch** (many-to-one), when ``batch`` is on. Primary internal rows that found nothing by
   reference and share a ``group_ref`` G form a group with the statement rows (that found nothing by
   reference) whose reference is G and whose time lies within the window around the batch's times.
5. **A group's category:** ``status_mismatch`` if the two sides' normalized statuses differ (several
   statuses on one side count as "mixed"); else ``amount_mismatch`` if currencies differ or the
   compared amounts (gross, or net with ``compare: net``) differ by more than the tolerance, which
   is the larger of the absolute and the percentage (of the internal amount) allowance; else
   ``fee_variance`` if an expected fee is configured, the statement gives fees, and they differ from
   the expected fee (rate x amount rounded half up, + fixed fee, per payment) by more than the fee
   tolerance (plus n - 1 minor units for n statement lines, each rounded by the gateway); else
   ``matched``.
6. **Leftovers.** An internal primary row in no group: ``missing_in_statement`` if it succeeded or
   was refunded, ``matched`` if pending or failed (nothing settled, consistently). A statement row in
   no group: ``missing_internally``. When the other side has the reference but outside the date
   window, both stay unmatched and the reason says how far apart they are.

Runs are deterministic: every tie is broken by (source, row), so the same inputs, in any order,
give the same items and fingerprints. Rows must be unique per side by (source, row).
"""

from __future__ import annotations

import re
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from importlib import resources
from pathlib import Path
from typing import Any, TypeAlias

import duckdb
import pyarrow as pa

from flightdeck.config.payments import MatchConfig
from flightdeck.payments.errors import ReconError
from flightdeck.payments.money import currency_exponent
from flightdeck.payments.recon.reasons import GroupFigures, build_items
from flightdeck.payments.recon.result import CategorySummary, MatchResult
from flightdeck.payments.records import RECORD_SCHEMA, Category

__all__ = ["STAGES", "Inputs", "load_sql", "match", "options_row"]

STAGES = ("01_prepare", "02_pairs", "03_batch", "04_rows", "05_extract")
"""The SQL stages, run in this order (files ``sql/<stage>.sql``)."""

Inputs: TypeAlias = pa.Table | Path | str
_COLUMNS = ", ".join(f'"{f.name}"' for f in RECORD_SCHEMA)
_COMMENT = re.compile(r"--[^\n]*")


def load_sql(name: str) -> str:
    """The text of ``sql/<name>.sql``."""
    return (resources.files("flightdeck.payments.recon") / "sql" / f"{name}.sql").read_text("utf-8")


def _statements(script: str) -> list[str]:
    return [s.strip() for s in _COMMENT.sub("", script).split(";") if s.strip()]


def _ppm(percent: Decimal) -> int:
    """A percentage in millionths (4 decimals of a percent kept, half-even beyond)."""
    return int((percent * 10_000).to_integral_value(ROUND_HALF_EVEN))


def options_row(options: MatchConfig, *, keep_matched: bool = False) -> dict[str, int]:
    """The row of ``recon_options`` for these options (``keep_matched``: list matched pairs too)."""
    fee_check = options.expected_fee_percent is not None or options.expected_fee_fixed != 0
    return {
        "window_us": int(Decimal(str(options.date_window)) * 1_000_000),
        "amount_tol_ppm": _ppm(options.tolerance.percent),
        "fee_tol_ppm": _ppm(options.fee_tolerance.percent),
        "fee_rate_ppm": _ppm(options.expected_fee_percent or Decimal(0)),
        "fee_check": int(fee_check),
        "compare_net": int(options.compare == "net"),
        "split_on": int(options.split),
        "batch_on": int(options.batch),
        "keep_matched": int(keep_matched),
    }


def _minor(major: Decimal, exponent: int, rounding: str) -> int:
    return int((major * (Decimal(10) ** exponent)).to_integral_value(rounding))


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _register(con: duckdb.DuckDBPyConnection, name: str, source: Inputs) -> None:
    if isinstance(source, pa.Table):
        missing = [f.name for f in RECORD_SCHEMA if f.name not in source.column_names]
        if missing:
            raise ReconError(f"{name} records lack column(s) {', '.join(missing)}")
        try:
            table = source.select(RECORD_SCHEMA.names).cast(RECORD_SCHEMA)
        except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as exc:
            raise ReconError(f"{name} records do not fit the record schema: {exc}") from exc
        con.register(f"{name}_arrow", table)
        con.execute(f"CREATE VIEW {name} AS SELECT {_COLUMNS} FROM {name}_arrow")  # noqa: S608 - fixed names
        return
    path = Path(source)
    if not path.is_file():
        raise ReconError(f"{name} records: no such file {path}")
    if path.suffix.lower() == ".csv":
        types = {f.name: _duck_type(f.type) for f in RECORD_SCHEMA}
        spec = "{" + ", ".join(f"{_sql_literal(k)}: {_sql_literal(v)}" for k, v in types.items()) + "}"
        reader = f"read_csv({_sql_literal(str(path))}, header = true, columns = {spec})"
    else:
        reader = f"read_parquet({_sql_literal(str(path))})"
    con.execute(f"CREATE VIEW {name} AS SELECT {_COLUMNS} FROM {reader}")  # noqa: S608 - path is a quoted literal


def _duck_type(dtype: pa.DataType) -> str:
    if pa.types.is_int64(dtype):
        return "BIGINT"
    if pa.types.is_timestamp(dtype):
        return "TIMESTAMPTZ"
    return "VARCHAR"


def _connect(
    memory_limit: str | None, threads: int | None, temp_dir: Path | None
) -> duckdb.DuckDBPyConnection:
    config: dict[str, Any] = {"preserve_insertion_order": False}
    if memory_limit is not None:
        config["memory_limit"] = memory_limit
    if threads is not None:
        config["threads"] = threads
    if temp_dir is not None:
        config["temp_directory"] = str(temp_dir)
    return duckdb.connect(":memory:", config=config)


def match(
    internal: Inputs,
    statement: Inputs,
    options: MatchConfig,
    *,
    memory_limit: str | None = None,
    threads: int | None = None,
    temp_dir: Path | None = None,
    include_matched: bool = False,
) -> MatchResult:
    """Reconcile ``internal`` against ``statement`` (see the module docstring for the rules).

    ``memory_limit`` (e.g. ``"3GB"``), ``threads`` and ``temp_dir`` (where the engine spills when
    over its memory limit) bound the engine. ``include_matched`` also lists matched items (costly for
    millions of rows; only counts are kept otherwise). Raises ReconError when the inputs cannot be
    read or the engine fails, CurrencyError on an unknown currency code.
    """
    try:
        con = _connect(memory_limit, threads, temp_dir)
    except duckdb.Error as exc:
        raise ReconError(f"reconciliation engine could not start: {exc}") from exc
    try:
        return _run(con, internal, statement, options, include_matched)
    except duckdb.Error as exc:
        raise ReconError(f"reconciliation engine failed: {exc}") from exc
    finally:
        con.close()


def _run(
    con: duckdb.DuckDBPyConnection,
    internal: Inputs,
    statement: Inputs,
    options: MatchConfig,
    include_matched: bool,
) -> MatchResult:
    _register(con, "internal", internal)
    _register(con, "statement", statement)
    counts = _one(con, "SELECT (SELECT COUNT(*) FROM internal), (SELECT COUNT(*) FROM statement)")
    currencies = sorted(
        str(r[0])
        for r in con.execute("SELECT currency FROM internal UNION SELECT currency FROM statement").fetchall()
    )
    exponents = {c: currency_exponent(c) for c in currencies}
    wanted = [c for c in Category if c.is_exception or include_matched]
    _parameters(con, options, exponents, wanted)
    for stage in STAGES:
        for sql in _statements(load_sql(stage)):
            con.execute(sql)
    summary = _summary(con)
    rows = _dicts(con, "q_items")
    groups = {(str(g["kind"]), str(g["gkey"])): GroupFigures.from_row(g) for g in _dicts(con, "q_groups")}
    gaps = {
        (str(r["side"]), str(r["source"]), int(r["row_no"])): int(r["gap_us"])
        for r in _dicts(con, "q_nearest")
    }
    items = build_items(rows, groups, gaps, options, exponents)
    exceptions = [i for i in items if i.category.is_exception]
    matched = [i for i in items if not i.category.is_exception]
    return MatchResult(
        summary=summary,
        exceptions=exceptions,
        matched_items=summary[Category.MATCHED].items,
        internal_rows=int(counts[0]),
        statement_rows=int(counts[1]),
        engine=f"duckdb {duckdb.__version__}",
        matched=matched,
    )


def _dicts(con: duckdb.DuckDBPyConnection, query: str) -> list[dict[str, Any]]:
    """The rows of ``q_<name>.sql`` as dicts (column-wise conversion: far faster than per row)."""
    columns = con.sql(load_sql(query)).to_arrow_table().to_pydict()
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    row = con.execute(sql).fetchone()
    if row is None:  # pragma: no cover - aggregates always return a row
        raise ReconError(f"no result from {sql!r}")
    return tuple(row)


def _parameters(
    con: duckdb.DuckDBPyConnection, options: MatchConfig, exponents: dict[str, int], wanted: list[Category]
) -> None:
    con.execute("CREATE TABLE recon_wanted (category VARCHAR)")
    con.executemany("INSERT INTO recon_wanted VALUES (?)", [[c.value] for c in wanted])
    row = options_row(options, keep_matched=Category.MATCHED in wanted)
    cols = ", ".join(f"{k} BIGINT" for k in row)
    con.execute(f"CREATE TABLE recon_options ({cols})")
    marks = ", ".join("?" for _ in row)
    con.execute(f"INSERT INTO recon_options VALUES ({marks})", list(row.values()))  # noqa: S608 - placeholders
    con.execute(
        "CREATE TABLE recon_currency (currency VARCHAR, amount_abs_minor BIGINT, fee_abs_minor BIGINT, "
        "fee_fixed_minor BIGINT)"
    )
    if exponents:
        con.executemany(
            "INSERT INTO recon_currency VALUES (?, ?, ?, ?)",
            [
                [
                    cur,
                    _minor(options.tolerance.absolute, exp, ROUND_FLOOR),
                    _minor(options.fee_tolerance.absolute, exp, ROUND_FLOOR),
                    _minor(options.expected_fee_fixed, exp, ROUND_HALF_EVEN),
                ]
                for cur, exp in exponents.items()
            ],
        )


def _summary(con: duckdb.DuckDBPyConnection) -> dict[Category, CategorySummary]:
    acc: dict[Category, dict[str, Any]] = {
        c: {"items": 0, "internal": 0, "statement": 0, "i_amt": {}, "s_amt": {}} for c in Category
    }
    for category, side, currency, n_rows, amount, items in con.execute(load_sql("q_summary")).fetchall():
        a = acc[Category(category)]
        a["items"] += int(items)
        a[side] += int(n_rows)
        amounts = a["i_amt"] if side == "internal" else a["s_amt"]
        amounts[currency] = amounts.get(currency, 0) + int(amount)
    for category, n_items in con.execute(load_sql("q_batches")).fetchall():
        acc[Category(category)]["items"] += int(n_items)
    return {
        c: CategorySummary(
            items=a["items"],
            internal_rows=a["internal"],
            statement_rows=a["statement"],
            internal_amounts=dict(sorted(a["i_amt"].items())),
            statement_amounts=dict(sorted(a["s_amt"].items())),
        )
        for c, a in acc.items()
    }
