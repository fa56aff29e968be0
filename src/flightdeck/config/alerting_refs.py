"""Cross-references of alerting rules: the services, checks, check kinds and log sources they name,
and the services maintenance windows name."""

from __future__ import annotations

from typing import Any

from flightdeck.config.alerting import CheckSelector, LogRateRule, LogSpikeRule, SqlValueRule
from flightdeck.config.check_spec import known_kinds

__all__ = ["alerting_issues"]

Issue = tuple[tuple[str | int, ...], str]


def _known(names: Any) -> str:
    listed = ", ".join(sorted(names)) or "none"
    return f"(declared: {listed})"


def alerting_issues(config: Any) -> list[Issue]:
    """References in ``alerting:`` that point at nothing, as (key path, message) pairs."""
    issues: list[Issue] = []
    alerting = config.alerting
    services = config.services
    kinds = set(known_kinds())
    for name, rule in alerting.rules.items():
        loc: tuple[str | int, ...] = ("alerting", "rules", name)
        if isinstance(rule, LogRateRule | LogSpikeRule):
            if rule.source not in alerting.log_sources:
                issues.append(
                    ((*loc, "source"), f"no log source named {rule.source!r} {_known(alerting.log_sources)}")
                )
            continue
        service = getattr(rule, "service", None)
        check = getattr(rule, "check", None)
        if service is not None and service not in services:
            issues.append(((*loc, "service"), f"no service named {service!r} {_known(services)}"))
            continue
        if check is not None:
            pool = [services[service]] if service is not None else list(services.values())
            specs = [c for svc in pool for c in svc.checks if c.name == check]
            if not specs:
                where = f"service {service!r}" if service is not None else "any service"
                issues.append(((*loc, "check"), f"no check named {check!r} in {where}"))
                continue
            if isinstance(rule, SqlValueRule) and specs[0].kind != "sql":
                issues.append(
                    (
                        (*loc, "check"),
                        f"{service}/{check} is a {specs[0].kind} check; sql_value reads sql checks",
                    )
                )
        if isinstance(rule, CheckSelector):
            for kind in rule.kinds:
                if kind not in kinds:
                    issues.append(((*loc, "check_kind"), f"unknown check kind {kind!r} {_known(kinds)}"))
    for name, source in alerting.log_sources.items():
        if source.service is not None and source.service not in services:
            issues.append(
                (
                    ("alerting", "log_sources", name, "service"),
                    f"no service named {source.service!r} {_known(services)}",
                )
            )
    for i, window in enumerate(alerting.maintenance):
        for j, service in enumerate(window.services):
            if service not in services:
                issues.append(
                    (
                        ("alerting", "maintenance", i, "services", j),
                        f"no service named {service!r} {_known(services)}",
                    )
                )
    return issues
