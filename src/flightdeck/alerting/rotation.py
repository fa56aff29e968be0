"""One layer of an on-call schedule as a list of pieces: a rotation cut by its restrictions.

Local times are turned into instants by :func:`localize`:

- a local time that does not exist (the hour skipped when clocks spring forward) becomes the first
  instant after the gap: 02:30 on the spring-forward day in Europe/Berlin is 03:00 CEST;
- a local time that happens twice (clocks fall back) is its first occurrence (``fold=0``).

Daily and weekly rotations hand off at the same local wall-clock time every day or week, so the shift
spanning a DST change lasts 23 or 25 hours; hourly and custom lengths are elapsed time.

Every instant this module returns is in UTC: Python compares and subtracts two datetimes that share
a ``tzinfo`` by their wall-clock time, which is wrong across a DST change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flightdeck.config.oncall import LayerConfig, Restriction, RotationConfig, RotationLength

__all__ = ["Piece", "Rotation", "layer_pieces", "localize", "restriction_windows", "to_instant"]


@dataclass(frozen=True, slots=True)
class Piece:
    """``user`` is on call from ``start`` (inclusive) to ``end`` (exclusive) by ``layer`` (its name),
    or by an override when ``layer`` is None."""

    user: str
    start: datetime
    end: datetime
    layer: str | None


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    # Through UTC: ``astimezone`` to the zone a value already has returns it unchanged.
    return instant.astimezone(UTC).astimezone(tz).replace(tzinfo=None)


def localize(local: datetime, tz: ZoneInfo) -> datetime:
    """The instant (UTC) of a naive local date-time in ``tz`` (see the module docstring for gaps and
    folds)."""
    first = local.replace(tzinfo=tz, fold=0)
    if _wall(first, tz) == local:
        return first.astimezone(UTC)
    # Inside a spring-forward gap: the transition lies between the two readings of the wall time.
    a = int(first.astimezone(UTC).timestamp())
    b = int(local.replace(tzinfo=tz, fold=1).astimezone(UTC).timestamp())
    lo, hi = min(a, b), max(a, b)
    while hi - lo > 1:  # invariant: wall(lo) <= local < wall(hi)
        mid = (lo + hi) // 2
        if _wall(datetime.fromtimestamp(mid, UTC), tz) > local:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def to_instant(value: datetime, tz: ZoneInfo) -> datetime:
    """An aware value as it is (in UTC); a naive one as local time in ``tz``."""
    return value.astimezone(UTC) if value.tzinfo is not None else localize(value, tz)


@dataclass(frozen=True)
class Rotation:
    """Shift ``k`` (``k >= 0``) runs from :meth:`boundary` ``(k)`` to ``(k + 1)``; user ``k mod n``."""

    users: tuple[str, ...]
    tz: ZoneInfo
    anchor: datetime
    """The instant (UTC) the first shift starts."""
    anchor_local: datetime
    """The same, as naive local wall-clock time."""
    wall_step: timedelta | None
    """Daily/weekly: a step of local calendar days."""
    step: timedelta | None
    """Hourly/custom: a step of elapsed time."""

    @classmethod
    def of(cls, rotation: RotationConfig, tz: ZoneInfo) -> Rotation:
        start = rotation.start
        if isinstance(start, datetime):
            local = _wall(start, tz) if start.tzinfo is not None else start
            anchor = to_instant(start, tz)
        else:
            local = datetime.combine(start, rotation.handoff)
            anchor = localize(local, tz)
        wall_step: timedelta | None = None
        step: timedelta | None = None
        if rotation.length == RotationLength.DAILY:
            wall_step = timedelta(days=1)
        elif rotation.length == RotationLength.WEEKLY:
            wall_step = timedelta(days=7)
        elif rotation.length == RotationLength.HOURLY:
            step = timedelta(hours=1)
        else:
            step = timedelta(seconds=float(rotation.length))
        return cls(tuple(rotation.users), tz, anchor, local, wall_step, step)

    def boundary(self, k: int) -> datetime:
        if self.wall_step is not None:
            return localize(self.anchor_local + k * self.wall_step, self.tz)
        assert self.step is not None
        return self.anchor + k * self.step

    def index_at(self, at: datetime) -> int:
        """The shift number running at ``at`` (negative before the first shift)."""
        if self.step is not None:
            return (at - self.anchor) // self.step
        assert self.wall_step is not None
        k = (_wall(at, self.tz) - self.anchor_local) // self.wall_step
        while self.boundary(k) > at:
            k -= 1
        while self.boundary(k + 1) <= at:
            k += 1
        return k

    def pieces(self, start: datetime, end: datetime, layer: str) -> list[Piece]:
        """The shifts within ``[start, end)``, cut to it; nobody before the first shift."""
        lo = max(start, self.anchor)
        out: list[Piece] = []
        if lo >= end:
            return out
        k = self.index_at(lo)
        b0 = self.boundary(k)
        while b0 < end:
            b1 = self.boundary(k + 1)
            s, e = max(b0, lo), min(b1, end)
            if s < e:
                out.append(Piece(self.users[k % len(self.users)], s, e, layer))
            k, b0 = k + 1, b1
        return out


def restriction_windows(
    restrictions: list[Restriction], tz: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The instants within ``[start, end)`` the restrictions allow, merged and sorted."""
    first: date = _wall(start, tz).date() - timedelta(days=1)
    last: date = _wall(end, tz).date()
    raw: list[tuple[datetime, datetime]] = []
    day = first
    while day <= last:
        for r in restrictions:
            if day.weekday() not in {d.number for d in r.days}:
                continue
            until = day + timedelta(days=1) if r.end <= r.start else day
            s = localize(datetime.combine(day, r.start), tz)
            e = localize(datetime.combine(until, r.end), tz)
            s, e = max(s, start), min(e, end)
            if s < e:
                raw.append((s, e))
        day += timedelta(days=1)
    raw.sort()
    merged: list[tuple[datetime, datetime]] = []
    for s, e in raw:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def layer_pieces(layer: LayerConfig, tz: ZoneInfo, start: datetime, end: datetime) -> list[Piece]:
    """Who the layer puts on call within ``[start, end)``: its rotation, cut to its restrictions."""
    pieces = Rotation.of(layer.rotation, tz).pieces(start, end, layer.name)
    if not layer.restrictions:
        return pieces
    windows = restriction_windows(layer.restrictions, tz, start, end)
    out: list[Piece] = []
    i = 0
    for p in pieces:
        while i < len(windows) and windows[i][1] <= p.start:
            i += 1
        j = i
        while j < len(windows) and windows[j][0] < p.end:
            s, e = max(p.start, windows[j][0]), min(p.end, windows[j][1])
            if s < e:
                out.append(Piece(p.user, s, e, p.layer))
            j += 1
    return out
