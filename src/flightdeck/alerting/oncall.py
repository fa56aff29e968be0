"""Who is on call: schedules resolved to a timeline of shifts, and how to reach a person.

A schedule is a stack of layers (later layers win wherever they have someone on call) topped by
overrides (which win over every layer). :func:`shifts` flattens the stack into one timeline;
consecutive pieces of the same person are merged into one :class:`Shift`, which reports the layer (or
override) it starts with. Pure functions over the configuration and an aware datetime: no store.

- :func:`on_call` — the people on call at an instant (the router pages them);
- :func:`shifts` — the timeline within a window, cut to it;
- :func:`covering_shifts` — the shifts overlapping a window, with their true edges (calendar feeds);
- :func:`current_and_next` — the shift running now and the one after it (the cockpit);
- :func:`contacts_for` — a person's contact methods in the order they are tried.

Rotation arithmetic and time-zone rules: :mod:`flightdeck.alerting.rotation`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flightdeck.alerting.errors import ScheduleError
from flightdeck.alerting.rotation import Piece, layer_pieces, to_instant
from flightdeck.config.base import pick
from flightdeck.config.models import Config
from flightdeck.config.oncall import ContactMethod, ScheduleConfig, zone

__all__ = [
    "HORIZON",
    "Shift",
    "contacts_for",
    "covering_shifts",
    "current_and_next",
    "on_call",
    "schedule_config",
    "shifts",
]

HORIZON = timedelta(days=400)
"""How far :func:`current_and_next` looks back and ahead for the edges of a shift."""

_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Shift:
    """``user`` is on call from ``start`` (inclusive) to ``end`` (exclusive), both UTC."""

    user: str
    start: datetime
    end: datetime
    layer: str | None
    """The layer the shift starts in; None when it starts with an override."""
    override: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "user": self.user,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "layer": self.layer,
            "override": self.override,
        }


def schedule_config(config: Config, schedule: str) -> ScheduleConfig:
    """The schedule named ``schedule``; :class:`NotFoundError` listing the known ones."""
    return pick(config.oncall.schedules, schedule, "on-call schedule", "oncall.schedules")


def _utc(value: datetime, what: str) -> datetime:
    if value.tzinfo is None:
        raise ScheduleError(f"{what} must carry a time zone (got {value.isoformat()})")
    return value.astimezone(UTC)


def _flatten(stack: list[list[Piece]], start: datetime, end: datetime) -> list[Shift]:
    """The highest non-empty level of ``stack`` at every instant, merged per person."""
    points = {start, end}
    for level in stack:
        for p in level:
            points.add(p.start)
            points.add(p.end)
    edges = sorted(t for t in points if start <= t <= end)
    cursor = [0] * len(stack)
    out: list[Shift] = []
    for a, b in itertools.pairwise(edges):
        top: Piece | None = None
        for n in range(len(stack) - 1, -1, -1):
            level = stack[n]
            while cursor[n] < len(level) and level[cursor[n]].end <= a:
                cursor[n] += 1
            if cursor[n] < len(level) and level[cursor[n]].start <= a:
                top = level[cursor[n]]
                break
        if top is None:
            continue
        if out and out[-1].user == top.user and out[-1].end == a:
            last = out[-1]
            out[-1] = Shift(last.user, last.start, b, last.layer, last.override)
        else:
            out.append(Shift(top.user, a, b, top.layer, top.layer is None))
    return out


def _timeline(sched: ScheduleConfig, start: datetime, end: datetime) -> list[Shift]:
    tz = zone(sched.timezone)
    stack = [layer_pieces(layer, tz, start, end) for layer in sched.layers]
    # Each override is a level of its own, so a later override wins over an earlier one.
    for o in sched.overrides:
        s, e = max(to_instant(o.start, tz), start), min(to_instant(o.end, tz), end)
        if s < e:
            stack.append([Piece(o.user, s, e, None)])
    return _flatten(stack, start, end)


def shifts(config: Config, schedule: str, start: datetime, end: datetime) -> list[Shift]:
    """The flattened timeline of ``schedule`` within ``[start, end)``, cut to the window."""
    sched = schedule_config(config, schedule)
    start, end = _utc(start, "start"), _utc(end, "end")
    if end <= start:
        return []
    return _timeline(sched, start, end)


def on_call(config: Config, schedule: str, at: datetime) -> list[str]:
    """The people on call on ``schedule`` at ``at`` (empty when nobody is)."""
    sched = schedule_config(config, schedule)
    at = _utc(at, "at")
    return [s.user for s in _timeline(sched, at, at + _TICK)]


def _covering(sched: ScheduleConfig, start: datetime, end: datetime) -> list[Shift]:
    """The shifts overlapping ``[start, end)`` with their true edges (up to :data:`HORIZON` away)."""
    pad = timedelta(days=2)
    while True:
        lo, hi = start - pad, end + pad
        found = [s for s in _timeline(sched, lo, hi) if s.end > start and s.start < end]
        cut = bool(found) and (found[0].start == lo or found[-1].end == hi)
        if not cut or pad >= HORIZON:
            return found
        pad = min(pad * 4, HORIZON)


def covering_shifts(config: Config, schedule: str, start: datetime, end: datetime) -> list[Shift]:
    """The shifts overlapping ``[start, end)`` with their true start and end (not cut to the window,
    but at most :data:`HORIZON` beyond it): what a calendar feed lists."""
    sched = schedule_config(config, schedule)
    start, end = _utc(start, "start"), _utc(end, "end")
    if end <= start:
        return []
    return _covering(sched, start, end)


def current_and_next(config: Config, schedule: str, at: datetime) -> tuple[Shift | None, Shift | None]:
    """The shift running at ``at`` (None when nobody is on call) and the next shift after it (None
    when there is none within :data:`HORIZON`)."""
    sched = schedule_config(config, schedule)
    at = _utc(at, "at")
    now = _covering(sched, at, at + _TICK)
    current = now[0] if now else None
    probe = current.end if current is not None else at
    if probe >= at + HORIZON:
        return current, None
    pad = timedelta(days=2)
    while True:
        ahead = [s for s in _timeline(sched, probe, probe + pad) if s.start >= probe and s.start > at]
        if ahead:
            first = ahead[0]
            return current, _covering(sched, first.start, first.start + _TICK)[0]
        if pad >= HORIZON:
            return current, None
        pad = min(pad * 4, HORIZON)


def contacts_for(config: Config, user: str) -> list[ContactMethod]:
    """``user``'s contact methods in the order they are tried: by ``after``, then as written."""
    person = pick(config.oncall.users, user, "on-call user", "oncall.users")
    return sorted(person.contacts, key=lambda c: c.after)
