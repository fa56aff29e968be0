"""When a check runs next: interval slots, cron in the check's time zone, jitter and catch-up.

Interval slots are stable: a check with interval ``I`` runs at ``phase + k·I`` seconds after the
Unix epoch, where ``phase`` is derived from the check's subject. The phase spreads 10,000 checks
with the same interval evenly over that interval instead of firing them together, and it does
not drift: the next slot is the previous slot plus the interval, whenever the run finished.

Cron expressions are read in the check's time zone, on its wall clock, across DST changes:

* a wall-clock time skipped when clocks go forward runs at the moment of the change
  (``30 1 * * *`` in Europe/London runs at 02:00 BST on the last Sunday of March);
* a wall-clock time that happens twice when clocks go back runs once, on its first pass, unless
  the hour field is a wildcard (``*``, ``*/2``), in which case the schedule follows real time and
  runs on both passes (``*/15 * * * *`` keeps running every 15 minutes).

Jitter delays each run by a random amount up to ``jitter`` (capped at half the time to the next
slot), without moving the slots themselves.
"""

from __future__ import annotations

import enum
import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from croniter import croniter

from flightdeck.config.check_spec import CatchUp

__all__ = [
    "ClaimAction",
    "ClaimDecision",
    "CronSchedule",
    "IntervalSchedule",
    "NextRun",
    "Schedule",
    "decide_on_claim",
    "first_due",
    "jittered",
    "missed_tolerance",
    "phase_for",
    "plan_after_run",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = 1_000_000
# How far back from a wall-clock time a cron search starts, and how far past a candidate it looks
# for an earlier instant: wider than any DST change (two hours at most, anywhere).
_DST_WINDOW = timedelta(hours=3)
_MAX_CANDIDATES = 5000
# A run claimed later than this after it was due counts as missed (see ``missed_tolerance``).
MISSED_AFTER_MAX = 60.0


def _to_us(when: datetime) -> int:
    delta = when - _EPOCH
    return (delta.days * 86400 + delta.seconds) * _US + delta.microseconds


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def phase_for(subject: str, interval: float) -> float:
    """A stable offset in ``[0, interval)`` seconds, derived from the subject alone."""
    interval_us = max(1, round(interval * _US))
    h = int.from_bytes(hashlib.sha256(subject.encode()).digest()[:8], "big")
    return (h % interval_us) / _US


@dataclass(frozen=True)
class IntervalSchedule:
    """Slots at ``epoch + phase + k·interval``."""

    interval: float
    phase: float = 0.0

    @classmethod
    def for_subject(cls, subject: str, interval: float) -> IntervalSchedule:
        return cls(interval=interval, phase=phase_for(subject, interval))

    def next_slot(self, after: datetime) -> datetime:
        """The first slot strictly after ``after``."""
        interval_us = max(1, round(self.interval * _US))
        phase_us = round(self.phase * _US) % interval_us
        k = (_to_us(after) - phase_us) // interval_us + 1
        return _from_us(phase_us + k * interval_us)

    def describe(self) -> str:
        return f"every {self.interval:g}s"


def _follows_real_time(expression: str) -> bool:
    """Whether the hour field is a wildcard (the schedule then runs in both passes of a repeated hour)."""
    text = expression.strip()
    if text.startswith("@"):
        return text == "@hourly"
    fields = text.split()
    return len(fields) >= 2 and fields[1].startswith("*")


def _transition(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The instant in ``(before, after]`` at which ``zone``'s UTC offset changes (to the second)."""
    target = after.astimezone(zone).utcoffset()
    lo, hi = before, after
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(zone).utcoffset() == target:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0) if hi.microsecond else hi


def _instants(naive: datetime, zone: ZoneInfo, both_passes: bool) -> list[datetime]:
    """The real instants at which a wall-clock time occurs (none, one or two of them)."""
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second:
        return [first]
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        # Repeated (clocks went back): fold=0 is the first pass.
        return [first, second] if both_passes else [first]
    # Skipped (clocks went forward): run at the moment of the change.
    return [_transition(second, first, zone)]


@dataclass(frozen=True)
class CronSchedule:
    """A cron expression read on the wall clock of ``timezone``."""

    expression: str
    timezone: str = "UTC"

    def next_slot(self, after: datetime) -> datetime:
        """The first instant strictly after ``after`` at which the expression fires."""
        return _cron_next(self.expression, self.timezone, after.astimezone(UTC))

    def describe(self) -> str:
        return f"cron {self.expression!r} ({self.timezone})"


@lru_cache(maxsize=4096)
def _cron_next(expression: str, timezone: str, after: datetime) -> datetime:
    zone = ZoneInfo(timezone)
    both = _follows_real_time(expression)
    start = after.astimezone(zone).replace(tzinfo=None) - _DST_WINDOW
    it = croniter(expression, start)
    best: datetime | None = None
    best_naive: datetime | None = None
    for _ in range(_MAX_CANDIDATES):
        naive: datetime = it.get_next(datetime)
        if best_naive is not None and naive > best_naive + _DST_WINDOW:
            break
        for instant in _instants(naive, zone, both):
            if instant > after and (best is None or instant < best):
                best, best_naive = instant, naive
    if best is None:
        raise ValueError(f"cron expression {expression!r} does not fire after {after.isoformat()}")
    return best


Schedule = IntervalSchedule | CronSchedule


def _gap(schedule: Schedule, slot: datetime) -> float:
    if isinstance(schedule, IntervalSchedule):
        return schedule.interval
    return (schedule.next_slot(slot) - slot).total_seconds()


def jittered(schedule: Schedule, slot: datetime, jitter: float, rng: random.Random) -> datetime:
    """``slot`` delayed by a random amount up to ``jitter``, capped at half the gap to the next slot
    (so the following slot is never overtaken)."""
    if jitter <= 0:
        return slot
    cap = min(jitter, _gap(schedule, slot) / 2)
    return slot + timedelta(seconds=rng.uniform(0.0, cap))


def first_due(schedule: Schedule, now: datetime, jitter: float, rng: random.Random) -> datetime:
    """When a check that has never been scheduled (or whose configuration changed) runs first."""
    return jittered(schedule, schedule.next_slot(now), jitter, rng)


def missed_tolerance(schedule: Schedule, due: datetime) -> float:
    """How late (seconds) a run may start before its slot counts as missed: half the gap to the
    next slot, at most a minute."""
    return min(MISSED_AFTER_MAX, max(0.0, (schedule.next_slot(due) - due).total_seconds()) / 2)


class ClaimAction(enum.StrEnum):
    RUN = "run"  # on time (or a little late): run now, continue from its slot
    CATCH_UP = "catch_up"  # missed while nobody ran it: run once now, continue from now
    SKIP = "skip"  # missed, and the policy is skip: do not run; wait for the next slot


@dataclass(frozen=True)
class ClaimDecision:
    action: ClaimAction
    lateness: float  # seconds the run starts after it was due (negative: early)
    reference: datetime  # the next slot is the first one after this instant
    skip_to: datetime | None = None  # with SKIP: the new due time


def decide_on_claim(
    schedule: Schedule,
    due: datetime,
    now: datetime,
    catch_up: CatchUp,
    jitter: float,
    rng: random.Random,
) -> ClaimDecision:
    """What to do with a run that is due at ``due`` and is about to start at ``now``."""
    late = (now - due).total_seconds()
    if late <= missed_tolerance(schedule, due):
        return ClaimDecision(ClaimAction.RUN, late, reference=due)
    if catch_up is CatchUp.RUN_ONCE:
        return ClaimDecision(ClaimAction.CATCH_UP, late, reference=now)
    return ClaimDecision(ClaimAction.SKIP, late, reference=now, skip_to=first_due(schedule, now, jitter, rng))


@dataclass(frozen=True)
class NextRun:
    due: datetime
    caught_up: bool  # the next slot had already passed: run once as soon as possible
    skipped: int  # slots given up under the ``skip`` policy


def plan_after_run(
    schedule: Schedule,
    reference: datetime,
    now: datetime,
    catch_up: CatchUp,
    jitter: float,
    rng: random.Random,
) -> NextRun:
    """The due time of the run after one whose schedule position is ``reference`` (its due time,
    or its start for a catch-up run), decided at ``now`` when it finished.

    Slots that passed while the run was in flight are never replayed one by one: ``run_once`` runs
    once as soon as possible, ``skip`` waits for the first slot after ``now``.
    """
    slot = schedule.next_slot(reference)
    if slot > now:
        return NextRun(jittered(schedule, slot, jitter, rng), caught_up=False, skipped=0)
    if catch_up is CatchUp.RUN_ONCE:
        return NextRun(now, caught_up=True, skipped=0)
    skipped = 0
    probe = slot
    while probe <= now and skipped < 10_000:
        skipped += 1
        probe = schedule.next_slot(probe)
    return NextRun(first_due(schedule, now, jitter, rng), caught_up=False, skipped=skipped)
