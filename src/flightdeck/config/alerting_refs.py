"""Cross-references of alerting rules: the services, checks and log sources they name."""

from __future__ import annotations

from typing import Any

__all__ = ["alerting_issues"]

Issue = tuple[tuple[str | int, ...], str]


def alerting_issues(config: Any) -> list[Issue]:
    """References in ``alerting:`` that point at nothing, as (key path, message) pairs."""
    issues: list[Issue] = []
    return issues
