"""The checks a DR drill makes on the restored copy, each a :class:`Verification`.

- :func:`verify_schema` — the schema objects (tables, views, indexes, sequences, functions, triggers,
  constraints) against those the backup engine listed in the dump's snapshot;
- :func:`verify_counts` — rows per table against the manifest;
- :func:`verify_hashes` — the declared tables' ordered row hashes against the manifest;
- :func:`verify_invariant` — user SQL that must hold (``no_rows``, ``zero`` or ``true``);
- :func:`newest_change` — ``MAX(column)`` of the RPO source, as an aware UTC datetime.

MySQL/MariaDB counts and hashes come from flightdeck's own consistent snapshot opened just before the
dump tool's (see :mod:`flightdeck.backups.engines.mysql`). When the manifest says the two snapshots
differed (``counts_exact: false``), a mismatch cannot be blamed on the restore and is reported as not
comparable (skipped) rather than failed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pydantic import JsonValue

from flightdeck.backups.drill_result import StepStatus, Verification, VerificationKind
from flightdeck.backups.inspect import quote_name, schema_objects, table_hash
from flightdeck.backups.manifest import Manifest
from flightdeck.config.drills import InvariantConfig, InvariantExpect, RpoSource
from flightdeck.datasources import Dialect
from flightdeck.errors import FlightdeckError

__all__ = [
    "INVARIANT_ROW_CAP",
    "newest_change",
    "verify_counts",
    "verify_hashes",
    "verify_invariant",
    "verify_schema",
]

INVARIANT_ROW_CAP = 20
"""Rows of an invariant's result kept in the record and the report."""

_LIST_CAP = 10


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_LIST_CAP])
    return shown + (f" and {len(names) - _LIST_CAP} more" if len(names) > _LIST_CAP else "")


def _not_comparable(manifest: Manifest) -> bool:
    return manifest.consistent_point.get("counts_exact") == "false"


def verify_schema(conn: Any, dialect: Dialect, manifest: Manifest) -> Verification:
    if manifest.schema_objects is None:
        return Verification(
            kind=VerificationKind.SCHEMA,
            name="schema objects",
            status=StepStatus.SKIPPED,
            message="the backup's manifest lists no schema objects (it predates schema recording)",
        )
    found = schema_objects(conn, dialect)
    problems: list[str] = []
    expected_total = actual_total = 0
    for kind in sorted(set(manifest.schema_objects) | set(found)):
        want = set(manifest.schema_objects.get(kind, []))
        have = set(found.get(kind, []))
        expected_total += len(want)
        actual_total += len(have)
        if missing := sorted(want - have):
            problems.append(f"{kind} missing: {_listed(missing)}")
        if extra := sorted(have - want):
            problems.append(f"{kind} not in the backup: {_listed(extra)}")
    per_kind = ", ".join(f"{len(v)} {k}" for k, v in sorted(found.items()) if v)
    return Verification(
        kind=VerificationKind.SCHEMA,
        name="schema objects",
        status=StepStatus.FAILED if problems else StepStatus.PASSED,
        expected=f"{expected_total} objects",
        actual=f"{actual_total} objects ({per_kind})" if per_kind else f"{actual_total} objects",
        message="; ".join(problems) or "every schema object of the backup is present, and nothing else",
    )


def verify_counts(actual: dict[str, int | None], manifest: Manifest) -> list[Verification]:
    out = []
    loose = _not_comparable(manifest)
    for table, expected in sorted(manifest.table_counts.items()):
        got = actual.get(table)
        if got == expected:
            status, message = StepStatus.PASSED, ""
        elif got is None:
            status, message = StepStatus.FAILED, "the table is missing from the restored copy"
        elif loose:
            status = StepStatus.SKIPPED
            message = "not comparable: the counts were taken in another snapshot than the dump's"
        else:
            status, message = StepStatus.FAILED, f"{got - expected:+d} rows"
        out.append(
            Verification(
                kind=VerificationKind.ROW_COUNTS,
                name=f"table {table}",
                status=status,
                expected=f"{expected} rows",
                actual="missing" if got is None else f"{got} rows",
                message=message,
            )
        )
    return out


def verify_hashes(conn: Any, dialect: Dialect, manifest: Manifest) -> list[Verification]:
    out = []
    loose = _not_comparable(manifest)
    for table, want in sorted(manifest.table_hashes.items()):
        try:
            got = table_hash(conn, dialect, table)
        except FlightdeckError as exc:
            out.append(
                Verification(
                    kind=VerificationKind.ROW_HASHES,
                    name=f"table {table}",
                    status=StepStatus.FAILED,
                    expected=f"{want.rows} rows, SHA-256 {want.sha256[:16]}…",
                    actual="missing",
                    message=str(exc),
                )
            )
            continue
        same = got.sha256 == want.sha256 and got.rows == want.rows
        if same:
            status, message = StepStatus.PASSED, f"rows identical in {', '.join(want.order_by)} order"
        elif loose:
            status = StepStatus.SKIPPED
            message = "not comparable: the hash was taken in another snapshot than the dump's"
        else:
            status = StepStatus.FAILED
            message = "the restored rows differ from the backed-up rows"
        out.append(
            Verification(
                kind=VerificationKind.ROW_HASHES,
                name=f"table {table}",
                status=status,
                expected=f"{want.rows} rows, SHA-256 {want.sha256[:16]}…",
                actual=f"{got.rows} rows, SHA-256 {got.sha256[:16]}…",
                message=message,
            )
        )
    return out


def _json(value: object) -> JsonValue:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "t", "true", "yes"}
    return value is True or (value is not None and not isinstance(value, bool) and value == 1)


def verify_invariant(conn: Any, invariant: InvariantConfig) -> Verification:
    """Run the invariant's SQL on the restored copy; a SQL error fails the invariant (with the error)."""
    base = {"kind": VerificationKind.INVARIANT, "name": invariant.name, "query": invariant.query.strip()}
    cur = conn.cursor()
    try:
        cur.execute(invariant.query)
        rows = cur.fetchmany(INVARIANT_ROW_CAP + 1) if cur.description is not None else []
        columns = [str(d[0]) for d in cur.description or []]
    except Exception as exc:
        with suppress(Exception):
            conn.rollback()  # PostgreSQL: the failed statement aborted the transaction the next query needs
        first = str(exc).strip().splitlines()
        return Verification(
            **base,
            status=StepStatus.FAILED,
            expected=invariant.expect.value.replace("_", " "),
            actual="error",
            message=f"the query failed: {first[0] if first else type(exc).__name__}",
        )
    finally:
        cur.close()
    result: JsonValue = {
        "columns": list(columns),
        "rows": [[_json(v) for v in row] for row in rows[:INVARIANT_ROW_CAP]],
        "truncated": len(rows) > INVARIANT_ROW_CAP,
    }
    if invariant.expect is InvariantExpect.NO_ROWS:
        ok = not rows
        shown = f"{INVARIANT_ROW_CAP}+ rows" if len(rows) > INVARIANT_ROW_CAP else f"{len(rows)} rows"
        return Verification(
            **base,
            status=StepStatus.PASSED if ok else StepStatus.FAILED,
            expected="no rows",
            actual=shown,
            message="" if ok else "every row returned is a violation",
            result=result,
        )
    value = rows[0][0] if len(rows) == 1 and len(rows[0]) >= 1 else None
    if len(rows) != 1:
        ok, actual = False, f"{len(rows)} rows (one value expected)"
    elif invariant.expect is InvariantExpect.ZERO:
        ok, actual = value is not None and not isinstance(value, str) and value == 0, repr(_json(value))
    else:
        ok, actual = _truthy(value), repr(_json(value))
    return Verification(
        **base,
        status=StepStatus.PASSED if ok else StepStatus.FAILED,
        expected="0" if invariant.expect is InvariantExpect.ZERO else "true",
        actual=actual,
        result=result,
    )


_EPOCH_DIVISOR = {"s": 1.0, "ms": 1e3, "us": 1e6}


def newest_change(conn: Any, dialect: Dialect, source: RpoSource) -> datetime | None:
    """``MAX(column)`` of the RPO table as an aware UTC datetime; ``None`` for an empty table."""
    query = f"SELECT MAX({quote_name(dialect, source.column)}) FROM {quote_name(dialect, source.table)}"  # noqa: S608
    cur = conn.cursor()
    try:
        cur.execute(query)
        row = cur.fetchone()
    finally:
        cur.close()
    value = row[0] if row else None
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value) / _EPOCH_DIVISOR[source.epoch_unit], UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise FlightdeckError(
                f"rpo: {source.table}.{source.column} holds {value!r}, not a timestamp"
            ) from None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise FlightdeckError(
        f"rpo: {source.table}.{source.column} holds a {type(value).__name__}, not a timestamp"
    )
