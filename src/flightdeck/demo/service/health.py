"""Liveness and readiness in the common health format (``application/health+json``).

The document follows the IETF draft "Health Check Response Format for HTTP APIs"::

    {"status": "pass", "serviceId": "demo-payments", "version": "1",
     "checks": {"database:responseTime": [{"componentType": "datastore", "observedValue": 0.4,
                                           "observedUnit": "ms", "status": "pass", "time": "..."}],
                "ledger:unbalancedTransactions": [...], "settlement:heartbeatAge": [...]}}

``/ready`` answers 503 when any component fails.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from flightdeck.demo.service.db import Database, DatabaseUnavailable
from flightdeck.demo.service.ledger import unbalanced_transactions

__all__ = ["SERVICE_ID", "ComponentCheck", "HealthStatus", "liveness", "readiness"]

SERVICE_ID = "demo-payments"
HEALTH_JSON = "application/health+json"
SETTLEMENT_STALE_AFTER = 10.0  # seconds without a settlement pass before the component fails


class HealthStatus(enum.StrEnum):
    PASS = "pass"  # noqa: S105 - a health status, not a password
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class ComponentCheck:
    key: str  # "component:measurement"
    component_type: str
    status: HealthStatus
    observed_value: float | None
    observed_unit: str | None
    output: str | None
    time: datetime

    def to_json(self) -> dict[str, object]:
        doc: dict[str, object] = {
            "componentType": self.component_type,
            "status": self.status.value,
            "time": self.time.isoformat(),
        }
        if self.observed_value is not None:
            doc["observedValue"] = self.observed_value
        if self.observed_unit:
            doc["observedUnit"] = self.observed_unit
        if self.output:
            doc["output"] = self.output
        return doc


def _document(status: HealthStatus, checks: list[ComponentCheck]) -> dict[str, object]:
    return {
        "status": status.value,
        "serviceId": SERVICE_ID,
        "version": "1",
        "description": "demo payments service",
        "checks": {c.key: [c.to_json()] for c in checks},
    }


def liveness() -> dict[str, object]:
    return _document(HealthStatus.PASS, [])


async def readiness(db: Database, settlement_age: float | None) -> tuple[HealthStatus, dict[str, object]]:
    """Check each component; the overall status is the worst of them."""
    now = datetime.now(UTC)
    checks: list[ComponentCheck] = []
    database_ok = True
    try:
        seconds = await asyncio.to_thread(db.probe)
        checks.append(
            ComponentCheck(
                "database:responseTime",
                "datastore",
                HealthStatus.PASS,
                round(seconds * 1000, 3),
                "ms",
                None,
                now,
            )
        )
    except DatabaseUnavailable as exc:
        database_ok = False
        checks.append(
            ComponentCheck("database:responseTime", "datastore", HealthStatus.FAIL, None, None, str(exc), now)
        )
    if database_ok:
        async with db.connection() as conn:
            unbalanced = await unbalanced_transactions(conn)
        checks.append(
            ComponentCheck(
                "ledger:unbalancedTransactions",
                "component",
                HealthStatus.PASS if unbalanced == 0 else HealthStatus.FAIL,
                unbalanced,
                None,
                None if unbalanced == 0 else f"{unbalanced} transaction(s) whose postings do not sum to 0",
                now,
            )
        )
    else:
        checks.append(
            ComponentCheck(
                "ledger:unbalancedTransactions",
                "component",
                HealthStatus.FAIL,
                None,
                None,
                "database is down",
                now,
            )
        )
    if settlement_age is None or settlement_age > SETTLEMENT_STALE_AFTER:
        out = "settlement worker has not run" if settlement_age is None else "settlement worker is stalled"
        checks.append(
            ComponentCheck(
                "settlement:heartbeatAge",
                "component",
                HealthStatus.FAIL,
                None if settlement_age is None else round(settlement_age, 3),
                "s",
                out,
                now,
            )
        )
    else:
        checks.append(
            ComponentCheck(
                "settlement:heartbeatAge",
                "component",
                HealthStatus.PASS,
                round(settlement_age, 3),
                "s",
                None,
                now,
            )
        )
    overall = HealthStatus.FAIL if any(c.status is HealthStatus.FAIL for c in checks) else HealthStatus.PASS
    return overall, _document(overall, checks)
