"""A day's gateway statement for the demo service, with a few seeded discrepancies.

The demo has no real card gateway statement, so :func:`write_demo_statement` writes one the way Stripe
exports its balance transactions (the ``stripe_balance`` mapping): one ``charge`` line per settled
top-up of the day, gross, fee (1.5 % + 0.25 EUR), net, ``available``. Then it plants one discrepancy of
each kind a reconciliation must find, and returns them, so the demo (and its test) can show that every
one was found:

- ``amount_mismatch``: one charge settled one euro higher than the service recorded;
- ``fee_variance``: one charge with a fee the terms do not explain;
- ``missing_in_statement``: one settled top-up the gateway never reported;
- ``missing_internally``: a charge the service knows nothing about;
- ``duplicate``: one charge reported twice;
- ``status_mismatch``: a top-up the service recorded as failed but the gateway settled.

It reads the service's SQLite database read-only and never changes it.
"""

from __future__ import annotations

import csv
import random
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

__all__ = ["DEMO_FEE_FIXED", "DEMO_FEE_PERCENT", "SeededStatement", "write_demo_statement"]

DEMO_FEE_PERCENT = Decimal("1.5")
DEMO_FEE_FIXED = Decimal("0.25")
_HEADER = ["id", "Type", "Source", "Amount", "Fee", "Net", "Currency", "Created (UTC)", "Status"]


@dataclass
class SeededStatement:
    path: Path
    day: date
    lines: int
    seeded: dict[str, list[str]] = field(default_factory=dict)  # category -> references


def _fee(cents: int) -> int:
    fee = Decimal(cents) * DEMO_FEE_PERCENT / 100 + DEMO_FEE_FIXED * 100
    return int(fee.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _money(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


def _topups(service_db: Path, day: date) -> list[tuple[int, int, str, float]]:
    start = datetime.combine(day, time(0, 0), tzinfo=UTC)
    end = start + timedelta(days=1)
    uri = f"file:{service_db}?mode=ro"
    with sqlite3.connect(uri, uri=True, timeout=10) as conn:
        return [
            (int(r[0]), int(r[1]), str(r[2]), float(r[3]))
            for r in conn.execute(
                "SELECT id, amount_cents, status, created_at FROM payments "
                "WHERE kind = 'topup' AND created_at >= ? AND created_at < ? ORDER BY id",
                (start.timestamp(), end.timestamp()),
            )
        ]


def write_demo_statement(service_db: Path, day: date, out_dir: Path, seed: int = 7) -> SeededStatement:
    """Write ``gateway-DAY.csv`` into ``out_dir`` from the day's top-ups; returns what was planted."""
    rng = random.Random(seed)
    payments = _topups(service_db, day)
    settled = [p for p in payments if p[2] == "settled"]
    failed = [p for p in payments if p[2] == "failed"]
    rng.shuffle(settled)
    seeded: dict[str, list[str]] = {}
    lines: list[list[str]] = []
    plan = ["amount_mismatch", "fee_variance", "missing_in_statement", "duplicate"]
    special = {p[0]: plan[i] for i, p in enumerate(settled[: len(plan)])}
    n = 0

    def line(ref: str, cents: int, fee: int, at: float) -> list[str]:
        nonlocal n
        n += 1
        created = datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
        return [f"txn_demo{n:06d}", "charge", ref, _money(cents), _money(fee), _money(cents - fee), "eur",
                created, "available"]  # fmt: skip

    for pid, cents, _status, at in sorted(settled):
        ref = f"pay_{pid}"
        what = special.get(pid)
        if what is not None:
            seeded.setdefault(what, []).append(ref)
        if what == "missing_in_statement":
            continue
        gross = cents + 100 if what == "amount_mismatch" else cents
        fee = _fee(gross) + (35 if what == "fee_variance" else 0)
        lines.append(line(ref, gross, fee, at))
        if what == "duplicate":
            lines.append(lines[-1][:])
    if failed:
        pid, cents, _status, at = failed[0]
        seeded["status_mismatch"] = [f"pay_{pid}"]
        lines.append(line(f"pay_{pid}", cents, _fee(cents), at))
    stray_at = datetime.combine(day, time(12, 0), tzinfo=UTC).timestamp()
    seeded["missing_internally"] = ["pay_unknown_1"]
    lines.append(line("pay_unknown_1", 4200, _fee(4200), stray_at))

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"gateway-{day.isoformat()}.csv"
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(_HEADER)
        writer.writerows(lines)
    tmp.replace(path)  # a reader never sees half a file
    return SeededStatement(path=path, day=day, lines=len(lines), seeded=seeded)
