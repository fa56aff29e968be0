"""Which backups a retention policy keeps: restic's ``forget`` selection, plus one rule of our own.

:func:`select` is pure and deterministic: the same snapshots and policy (and ``now``) always give the
same :class:`RetentionPlan`, whatever order the snapshots come in. It follows restic's
``ApplyPolicy`` (``internal/data/snapshot_policy.go``; user docs "Removing backup snapshots",
``doc/060_forget.rst``) step by step:

* snapshots are ordered newest first (restic: by time; ties, which restic leaves in input order, are
  broken here by id so the result never depends on the order given);
* each count rule has a bucket function — ``last``: every snapshot its own bucket; ``hourly``: the
  wall-clock hour; ``daily``: the calendar day; ``weekly``: the ISO week (Monday to Sunday, ISO
  year); ``monthly``; ``yearly`` — evaluated on the snapshot's time *in the policy's time zone*
  (restic uses each snapshot's recorded zone; a backup set has one zone here, the policy's);
* walking newest → oldest, a snapshot whose bucket differs from the previous bucket of that rule is
  the newest of its bucket: it is kept and the rule's count goes down by one (``-1`` never runs out);
* the oldest snapshot is kept as well while a rule still has count left (restic ≥ 0.17: "oldest
  daily snapshot"), which keeps the history as long as the policy allows;
* ``keep_within``: every snapshot newer than (latest − span) is kept, where *latest* is the newest
  snapshot not in the future relative to ``now`` (restic ignores future timestamps when finding the
  latest; snapshots in the future are therefore inside any window and never pruned by it).

flightdeck's own rule: the newest *verified* snapshot is always kept ("newest verified backup"), so a
policy can never leave nothing restorable that was proven good. Apart from that rule, snapshots newer
than the newest verified one get no special treatment: like restic, they are kept only when a rule
keeps them (in practice the newest snapshot is always kept by any non-zero count rule, since it is
the newest of its bucket).

Every snapshot appears in the plan exactly once, kept with *all* the reasons that keep it or removed
with the reason ``no rule keeps it``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import JsonValue

from flightdeck.config.backup_retention import RetentionPolicy, WithinSpan

__all__ = [
    "NO_RULE",
    "Decision",
    "Reason",
    "RetentionPlan",
    "Rule",
    "Snapshot",
    "select",
]

NO_RULE = "no rule keeps it"


class Rule(enum.StrEnum):
    LAST = "last"
    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    YEARLY = "yearly"
    WITHIN = "within"
    NEWEST_VERIFIED = "newest_verified"


@dataclass(frozen=True)
class Snapshot:
    """One complete backup as retention sees it."""

    id: str
    time: datetime  # timezone-aware
    verified: bool = False

    def __post_init__(self) -> None:
        if self.time.tzinfo is None or self.time.utcoffset() is None:
            raise ValueError(f"snapshot {self.id}: time must be timezone-aware")


@dataclass(frozen=True)
class Reason:
    """Why a snapshot is kept: the rule, and the text shown (``daily 2026-11-20``)."""

    rule: Rule
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Decision:
    snapshot: Snapshot
    keep: bool
    reasons: tuple[Reason, ...] = ()

    @property
    def why(self) -> tuple[str, ...]:
        """The reasons as text; ``("no rule keeps it",)`` for a removed snapshot."""
        return tuple(r.text for r in self.reasons) if self.keep else (NO_RULE,)


@dataclass(frozen=True)
class RetentionPlan:
    """The outcome of :func:`select`: one decision per snapshot, newest first."""

    policy: RetentionPolicy
    decisions: tuple[Decision, ...] = field(default_factory=tuple)

    @property
    def kept(self) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if d.keep)

    @property
    def removed(self) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if not d.keep)

    def to_json(self) -> dict[str, JsonValue]:
        def entry(d: Decision) -> dict[str, JsonValue]:
            return {
                "id": d.snapshot.id,
                "time": d.snapshot.time.isoformat(),
                "verified": d.snapshot.verified,
                "reasons": list(d.why),
            }

        return {
            "policy": self.policy.describe(),
            "timezone": self.policy.timezone,
            "kept": [entry(d) for d in self.kept],
            "removed": [entry(d) for d in self.removed],
        }


# Bucket functions: (local time, position newest-first) → (bucket key, label for people).
Bucketer = Callable[[datetime, int], tuple[object, str]]


def _hourly(t: datetime, _: int) -> tuple[object, str]:
    return (t.year, t.month, t.day, t.hour), f"{t:%Y-%m-%d %H}:00"


def _daily(t: datetime, _: int) -> tuple[object, str]:
    return (t.year, t.month, t.day), f"{t:%Y-%m-%d}"


def _weekly(t: datetime, _: int) -> tuple[object, str]:
    iso = t.isocalendar()
    return (iso.year, iso.week), f"{iso.year}-W{iso.week:02d}"


def _monthly(t: datetime, _: int) -> tuple[object, str]:
    return (t.year, t.month), f"{t:%Y-%m}"


def _yearly(t: datetime, _: int) -> tuple[object, str]:
    return t.year, f"{t.year}"


@dataclass
class _Bucket:
    rule: Rule
    count: int
    bucketer: Bucketer | None  # None: keep-last, labelled with the policy's count
    last: object = None
    initial: int = field(init=False)

    def __post_init__(self) -> None:
        self.initial = self.count

    def label(self, t: datetime, nr: int) -> tuple[object, str]:
        if self.bucketer is None:
            return ("#", nr), f"last {'all' if self.initial == -1 else self.initial}"
        return self.bucketer(t, nr)


def _subtract(latest: datetime, span: WithinSpan) -> datetime:
    """``latest.AddDate(-y, -m, -d).Add(-h hours)`` with Go's normalisation of overflowing days."""
    months = latest.year * 12 + (latest.month - 1) - span.years * 12 - span.months
    year, month = divmod(months, 12)
    day_offset = latest.day - 1 - span.days
    shifted_date = date(year, month + 1, 1) + timedelta(days=day_offset)
    shifted = latest.replace(year=shifted_date.year, month=shifted_date.month, day=shifted_date.day)
    return shifted - timedelta(hours=span.hours)


def select(
    snapshots: Sequence[Snapshot], policy: RetentionPolicy, *, now: datetime | None = None
) -> RetentionPlan:
    """Decide for each snapshot whether ``policy`` keeps it (see the module docstring for the rules).

    ``now`` only matters for ``keep_within``: snapshots after ``now`` are not taken as the latest
    one. Without ``now`` the newest snapshot is the latest."""
    zone = ZoneInfo(policy.timezone)
    ordered = sorted(snapshots, key=lambda s: s.id)
    ordered.sort(key=lambda s: s.time, reverse=True)
    if not ordered:
        return RetentionPlan(policy, ())

    buckets = [
        _Bucket(Rule.LAST, policy.keep_last, None),
        _Bucket(Rule.HOURLY, policy.keep_hourly, _hourly),
        _Bucket(Rule.DAILY, policy.keep_daily, _daily),
        _Bucket(Rule.WEEKLY, policy.keep_weekly, _weekly),
        _Bucket(Rule.MONTHLY, policy.keep_monthly, _monthly),
        _Bucket(Rule.YEARLY, policy.keep_yearly, _yearly),
    ]
    within = policy.within
    cutoff: datetime | None = None
    if within is not None:
        candidates = [s.time for s in ordered if now is None or s.time < now]
        # restic: with no snapshot before now, latest is the zero time and the window covers all.
        cutoff = _subtract(max(candidates).astimezone(zone), within) if candidates else None

    newest_verified = next((s for s in ordered if s.verified), None)
    oldest = len(ordered) - 1
    decisions: list[Decision] = []
    for nr, snap in enumerate(ordered):
        local = snap.time.astimezone(zone)
        reasons: list[Reason] = []
        if within is not None and (cutoff is None or snap.time > cutoff):
            reasons.append(Reason(Rule.WITHIN, f"within {within}"))
        for b in buckets:
            if b.count == 0:
                continue
            key, label = b.label(local, nr)
            if key != b.last or nr == oldest:
                # restic keeps the oldest snapshot too while the rule has count left ("oldest daily").
                prefix = "oldest " if key == b.last else ""
                reasons.append(Reason(b.rule, f"{prefix}{b.rule.value} {label}" if b.bucketer else label))
                b.last = key
                if b.count > 0:
                    b.count -= 1
        if snap is newest_verified:
            reasons.append(Reason(Rule.NEWEST_VERIFIED, "newest verified backup"))
        decisions.append(Decision(snap, bool(reasons), tuple(reasons)))
    return RetentionPlan(policy, tuple(decisions))
