"""What the API and the cockpit both show, loaded once: services, one check, evidence."""

from __future__ import annotations

import dataclasses
import enum
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection

from flightdeck.config.check_spec import CheckSpec
from flightdeck.config.models import Config, ServiceConfig
from flightdeck.config.types import parse_duration
from flightdeck.errors import NotFoundError
from flightdeck.evidence import Evidence, Verdict, scrub
from flightdeck.store import CheckStatus, get_evidence, get_status
from flightdeck.store.stats import CheckSummary, check_summaries
from flightdeck.web.queries import ServiceCounts, service_counts

__all__ = [
    "CheckView",
    "ServiceView",
    "TimeRange",
    "find_spec",
    "load_check",
    "load_services",
    "parse_when",
    "scrub_evidence",
    "scrub_status",
    "scrub_statuses",
]


class TimeRange(enum.StrEnum):
    """The ranges charts offer."""

    DAY = "24h"
    WEEK = "7d"
    MONTH = "30d"

    @property
    def width(self) -> timedelta:
        return {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}[self.value]


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}")


def parse_when(value: str | None, now: datetime) -> datetime | None:
    """An ISO timestamp (UTC when it has no zone) or a duration ago (``1h``, ``7d``)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if _ISO.match(text):
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO timestamp") from None
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    return now - timedelta(seconds=parse_duration(text))


def scrub_evidence(record: Evidence, secrets: frozenset[str]) -> Evidence:
    """The record with any configured secret masked (records are scrubbed when written; this also
    covers secrets added to the configuration since)."""
    if not secrets:
        return record
    detail = scrub(record.detail, secrets)
    summary = scrub(record.summary, secrets)
    return record.model_copy(
        update={"detail": detail if isinstance(detail, dict) else {}, "summary": str(summary)}
    )


def scrub_status(status: CheckStatus, secrets: frozenset[str]) -> CheckStatus:
    """The status with any configured secret masked in its latest summary."""
    if not secrets or not status.last_summary:
        return status
    return dataclasses.replace(status, last_summary=str(scrub(status.last_summary, secrets)))


def scrub_statuses(statuses: list[CheckStatus], secrets: frozenset[str]) -> list[CheckStatus]:
    return [scrub_status(s, secrets) for s in statuses]


def find_spec(config: Config, service: str, check: str) -> CheckSpec | None:
    svc = config.services.get(service)
    if svc is None:
        return None
    return next((c for c in svc.checks if c.name == check), None)


def _placeholder(service: str, spec: CheckSpec) -> CheckStatus:
    """A configured check that has not reached the store yet: verdict unknown, no runs."""
    return CheckStatus(
        subject=f"{service}/{spec.name}",
        service=service,
        check=spec.name,
        kind=spec.kind,
        enabled=spec.enabled,
        retired=False,
        next_due_at=None,
        lease_owner=None,
        last_evidence_id=None,
        last_verdict=None,
        last_finished_at=None,
        last_duration_ms=None,
        last_summary=None,
        last_change_at=None,
        last_failure_evidence_id=None,
        consecutive_failures=0,
        memo=None,
    )


@dataclass(frozen=True)
class CheckView:
    status: CheckStatus
    spec: CheckSpec | None  # None when the check is no longer configured
    summary: CheckSummary
    last_failure: Evidence | None
    interval: float | None  # effective, None for cron

    @property
    def subject(self) -> str:
        return self.status.subject


def load_check(
    conn: Connection, config: Config, service: str, check: str, now: datetime, secrets: frozenset[str]
) -> CheckView:
    subject = f"{service}/{check}"
    spec = find_spec(config, service, check)
    status = get_status(conn, subject)
    if status is None:
        if spec is None:
            raise NotFoundError(f"no check {subject!r}")
        status = _placeholder(service, spec)
    status = scrub_status(status, secrets)
    summary = check_summaries(conn, [subject], now)[subject]
    failure: Evidence | None = None
    if status.last_failure_evidence_id is not None:
        try:
            failure = scrub_evidence(get_evidence(conn, status.last_failure_evidence_id), secrets)
        except NotFoundError:  # pruned by retention
            failure = None
    interval: float | None = None
    if spec is not None and spec.cron is None:
        interval = spec.interval if spec.interval is not None else config.defaults.interval
    return CheckView(status=status, spec=spec, summary=summary, last_failure=failure, interval=interval)


@dataclass(frozen=True)
class ServiceView:
    name: str
    config: ServiceConfig
    counts: ServiceCounts

    @property
    def verdict(self) -> Verdict:
        return self.counts.verdict


def load_services(
    conn: Connection, config: Config, counts: dict[str, ServiceCounts] | None = None
) -> list[ServiceView]:
    """Every configured service with its checks' current verdicts, worst first, then by name."""
    counts = service_counts(conn) if counts is None else counts
    views = []
    for name, svc in config.services.items():
        found = counts.get(name)
        if found is None:
            found = ServiceCounts(name, {**dict.fromkeys(Verdict, 0), Verdict.UNKNOWN: len(svc.checks)})
        views.append(ServiceView(name, svc, found))
    return sorted(views, key=lambda v: (-v.verdict.rank, v.name))
