"""Cross-references of on-call configuration: users, schedules, channels and policies."""

from __future__ import annotations

from typing import Any

__all__ = ["oncall_issues"]

Issue = tuple[tuple[str | int, ...], str]


def oncall_issues(config: Any) -> list[Issue]:
    """References in ``oncall:``, ``channels:`` and ``alerting.routes`` that point at nothing, and
    schedules that cannot work, as (key path, message) pairs."""
    issues: list[Issue] = []
    return issues
