"""Rules that count runs in a row: ``check_failing`` (failing verdicts) and ``sql_value`` (a sql
check's value crossing a threshold). A run that does not hold resets the count and resolves the
alert; a run that says nothing (verdict ``unknown``, no value) leaves the state as it is."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta

from flightdeck.alerting.rules.base import Act, AlertBook, CheckInfo, Decision, EvidenceRow
from flightdeck.alerting.rules.evaluator import EvidenceRule
from flightdeck.config.alerting import RuleBase

__all__ = ["Streak", "StreakRule"]

_FOR_HISTORY_ROWS = 500


@dataclass
class Streak:
    count: int = 0
    since: datetime | None = None  # finished_at of the first run of the streak
    last: EvidenceRow | None = None
    value: float | None = None


class StreakRule(EvidenceRule):
    """Fires after ``consecutive`` holding runs, or, with ``for_``, once runs have held that long
    (pending before)."""

    def __init__(self, name: str, rule: RuleBase, consecutive: int, for_: float | None) -> None:
        super().__init__(name, rule)
        self.consecutive = consecutive
        self.for_ = for_
        self.history_rows = _FOR_HISTORY_ROWS if for_ else consecutive
        self.state: dict[str, Streak] = {}
        self.infos: dict[str, CheckInfo] = {}

    @abstractmethod
    def classify(self, row: EvidenceRow, info: CheckInfo) -> tuple[bool, float | None] | None:
        """(holds, value) for a run, or None when the run says nothing."""

    @abstractmethod
    def summary(self, info: CheckInfo, streak: Streak, now: datetime) -> str:
        """The alert's one-line summary."""

    def _fold(self, row: EvidenceRow, info: CheckInfo) -> bool | None:
        verdict = self.classify(row, info)
        if verdict is None:
            return None
        holds, value = verdict
        st = self.state.setdefault(info.subject, Streak())
        if not holds:
            self.state[info.subject] = Streak()
            return False
        st.count += 1
        st.since = st.since or row.finished_at
        st.last = row
        st.value = value
        return True

    def replay(self, row: EvidenceRow, info: CheckInfo) -> None:
        self._fold(row, info)

    def observe(self, row: EvidenceRow, info: CheckInfo, now: datetime, book: AlertBook) -> Decision | None:
        self.infos[info.subject] = info
        held = self._fold(row, info)
        if held is None:
            return None
        if not held:
            return Decision(Act.RESOLVE, self.fingerprint(info))
        return self._judge(info, now, book)

    def _judge(self, info: CheckInfo, now: datetime, book: AlertBook) -> Decision | None:
        st = self.state[info.subject]
        fp = self.fingerprint(info)
        last = st.last
        evidence_id = last.id if last is not None else None
        if self.for_:
            active = book.get(fp)
            since = st.since or now
            if active is not None and active.started_at < since:
                since = active.started_at
                st.since = since
            act = Act.FIRE if now - since >= timedelta(seconds=self.for_) else Act.PENDING
            return Decision(act, fp, self.alert(info, self.summary(info, st, now), st.value, evidence_id))
        if st.count >= self.consecutive:
            return Decision(
                Act.FIRE, fp, self.alert(info, self.summary(info, st, now), st.value, evidence_id)
            )
        return None

    def tick(self, now: datetime, book: AlertBook) -> list[Decision]:
        if not self.for_:
            return []
        out: list[Decision] = []
        for subject, st in self.state.items():
            info = self.infos.get(subject)
            if st.count == 0 or info is None:
                continue
            active = book.get(self.fingerprint(info))
            if active is not None and active.state.value == "firing":
                continue
            decision = self._judge(info, now, book)
            if decision is not None and decision.act is Act.FIRE:
                out.append(decision)
        return out
