"""The shape of an evidence rule's evaluator, and the index that sends each evidence record only to
the rules that can match it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime

from flightdeck.alerting.alerts import AlertInput
from flightdeck.alerting.rules.base import AlertBook, CheckInfo, Decision, EvidenceRow, build_alert
from flightdeck.config.alerting import RuleBase

__all__ = ["EvidenceRule", "RuleIndex"]


class EvidenceRule(ABC):
    """Evaluates one configured rule over evidence, keeping per-check state in memory.

    The engine seeds a check's state from history the first time it meets the check (``seed``, with
    up to ``history_rows`` latest records and every record of the last ``history_seconds``), then
    feeds it each new record in order (``observe``) and calls ``tick`` on time."""

    history_rows: int = 0
    history_seconds: float = 0.0

    def __init__(self, name: str, rule: RuleBase) -> None:
        self.name = name
        self.rule = rule
        self._seeded: set[str] = set()
        self._fps: dict[str, str] = {}

    @abstractmethod
    def selects(self, info: CheckInfo) -> bool:
        """Whether this rule applies to the check."""

    def seeded(self, subject: str) -> bool:
        return subject in self._seeded

    def seed(self, info: CheckInfo, rows: Sequence[EvidenceRow]) -> None:
        """Fold history (oldest first, all before the first new record) into the check's state."""
        self._seeded.add(info.subject)
        for row in rows:
            self.replay(row, info)

    def replay(self, row: EvidenceRow, info: CheckInfo) -> None:  # noqa: B027 - optional hook
        """Fold one historical record into state, deciding nothing."""

    @abstractmethod
    def observe(self, row: EvidenceRow, info: CheckInfo, now: datetime, book: AlertBook) -> Decision | None:
        """Fold a new record into state; what to do about the check now, if anything."""

    def tick(self, now: datetime, book: AlertBook) -> list[Decision]:
        """Decisions due to the passing of time alone (a ``for`` elapsed, a window slid)."""
        return []

    def alert(
        self, info: CheckInfo, summary: str, value: float | None = None, evidence_id: int | None = None
    ) -> AlertInput:
        return build_alert(
            self.name,
            self.rule,
            info.service,
            {"check": info.check},
            summary,
            value=value,
            evidence_id=evidence_id,
        )

    def fingerprint(self, info: CheckInfo) -> str:
        fp = self._fps.get(info.subject)
        if fp is None:
            fp = self._fps[info.subject] = self.alert(info, "").fingerprint
        return fp


class RuleIndex:
    """Rules by the (service, check, kind) they can match, memoised per check."""

    def __init__(self, rules: Sequence[EvidenceRule]) -> None:
        self.rules = list(rules)
        self._memo: dict[tuple[str, str, str], list[EvidenceRule]] = {}

    def for_check(self, info: CheckInfo) -> list[EvidenceRule]:
        key = (info.service, info.check, info.kind)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = [r for r in self.rules if r.selects(info)]
        return found
