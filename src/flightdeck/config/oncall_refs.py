"""Cross-references of on-call configuration: users, schedules, channels and policies.

Besides names that point at nothing, this finds schedules that cannot work as written:

- restriction windows of one layer that overlap each other;
- overrides that end before they start, or overlap another override of the same schedule;
- hours of the week that no layer's restrictions cover (``gap: nobody is on call …``), unless the
  schedule says ``allow_gaps: true``. Coverage is computed over one representative week in local time;
- contact methods without the address their channel needs (WhatsApp: ``to`` in E.164 form; Telegram
  and email: ``to``, or the channel's own ``chat_id``/``to``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from typing import Any

from flightdeck.config.oncall import OncallConfig, Restriction, ScheduleConfig, Weekday, zone

__all__ = ["oncall_issues", "week_gaps", "week_spans"]

Issue = tuple[tuple[str | int, ...], str]
Span = tuple[int, int]

WEEK = 7 * 24 * 60
"""Minutes in a week; a span is ``(first minute, end minute)`` counted from Monday 00:00."""

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_DAYS = [d.value for d in Weekday]


def _minute(t: time) -> int:
    return t.hour * 60 + t.minute


def week_spans(r: Restriction) -> list[Span]:
    """The minutes of the week one restriction covers, split at the week's end."""
    out: list[Span] = []
    length = (_minute(r.end) - _minute(r.start)) % (24 * 60) or 24 * 60
    for day in sorted({d.number for d in r.days}):
        s = day * 24 * 60 + _minute(r.start)
        e = s + length
        if e <= WEEK:
            out.append((s, e))
        else:
            out += [(s, WEEK), (0, e - WEEK)]
    return out


def _union(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def week_gaps(schedule: ScheduleConfig) -> list[Span]:
    """The minutes of a week no layer covers; a gap over Sunday midnight ends past :data:`WEEK`."""
    spans: list[Span] = []
    for layer in schedule.layers:
        if not layer.restrictions:
            return []
        for r in layer.restrictions:
            spans += week_spans(r)
    covered = _union(spans)
    gaps: list[Span] = []
    at = 0
    for s, e in covered:
        if s > at:
            gaps.append((at, s))
        at = max(at, e)
    if at < WEEK:
        gaps.append((at, WEEK))
    if len(gaps) > 1 and gaps[0][0] == 0 and gaps[-1][1] == WEEK:
        gaps = [*gaps[1:-1], (gaps[-1][0], WEEK + gaps[0][1])]
    return gaps


def _clock(minute: int) -> tuple[str, str]:
    minute %= WEEK
    return _DAYS[minute // 1440], f"{minute % 1440 // 60:02d}:{minute % 60:02d}"


def _describe(span: Span) -> str:
    (d0, t0), (d1, t1) = _clock(span[0]), _clock(span[1])
    if span[1] - span[0] >= WEEK:
        return "all week"
    same_day = d0 == d1 and span[1] - span[0] < 24 * 60 and t1 != "00:00"
    return f"{d0} {t0}-{t1}" if same_day else f"{d0} {t0}-{d1} {t1}"


def _overlap(a: list[Span], b: list[Span]) -> bool:
    return any(s1 < e2 and s2 < e1 for s1, e1 in a for s2, e2 in b)


def _schedule_issues(name: str, sched: ScheduleConfig, users: set[str]) -> list[Issue]:
    loc: tuple[str | int, ...] = ("oncall", "schedules", name)
    issues: list[Issue] = []
    known = ", ".join(sorted(users)) or "none declared"
    seen: dict[str, int] = {}
    for i, layer in enumerate(sched.layers):
        first = seen.setdefault(layer.name, i)
        if first != i:
            issues.append(((*loc, "layers", i, "name"), f"layers[{first}] is already named {layer.name!r}"))
        for u, user in enumerate(layer.rotation.users):
            if user not in users:
                where = (*loc, "layers", i, "rotation", "users", u)
                issues.append((where, f"no user named {user!r} (oncall.users: {known})"))
        spans = [week_spans(r) for r in layer.restrictions]
        for j in range(len(spans)):
            for k in range(j):
                if _overlap(spans[j], spans[k]):
                    issues.append(
                        (
                            (*loc, "layers", i, "restrictions", j),
                            f"overlap: this window overlaps restrictions[{k}] of the same layer",
                        )
                    )
                    break
    tz = zone(sched.timezone)
    instants: list[tuple[int, tuple[datetime, datetime]]] = []
    for i, o in enumerate(sched.overrides):
        if o.user not in users:
            issues.append(
                ((*loc, "overrides", i, "user"), f"no user named {o.user!r} (oncall.users: {known})")
            )
        start = (o.start if o.start.tzinfo is not None else o.start.replace(tzinfo=tz)).astimezone(UTC)
        end = (o.end if o.end.tzinfo is not None else o.end.replace(tzinfo=tz)).astimezone(UTC)
        if end <= start:
            issues.append(((*loc, "overrides", i, "end"), "an override must end after it starts"))
            continue
        for k, (s, e) in instants:
            if start < e and s < end:
                issues.append(((*loc, "overrides", i), f"overlap: this override overlaps overrides[{k}]"))
                break
        instants.append((i, (start, end)))
    if not sched.allow_gaps:
        for gap in week_gaps(sched):
            issues.append(
                (
                    (*loc, "layers"),
                    f"gap: nobody is on call {_describe(gap)} (local); "
                    "add a layer or set allow_gaps: true on the schedule",
                )
            )
    return issues


def _contact_issues(config: Any, oncall: OncallConfig) -> list[Issue]:
    issues: list[Issue] = []
    channels: dict[str, Any] = config.channels
    known = ", ".join(sorted(channels)) or "none declared"
    for name, user in oncall.users.items():
        for i, contact in enumerate(user.contacts):
            loc: tuple[str | int, ...] = ("oncall", "users", name, "contacts", i)
            channel = channels.get(contact.channel)
            if channel is None:
                issues.append(
                    ((*loc, "channel"), f"no channel named {contact.channel!r} (channels: {known})")
                )
                continue
            kind = channel.type
            if kind == "whatsapp":
                if contact.to is None:
                    issues.append((loc, "a whatsapp contact needs to: a phone number such as +251911000001"))
                elif not _E164.match(contact.to):
                    issues.append(
                        ((*loc, "to"), f"{contact.to!r} is not an E.164 phone number (+ and 7-15 digits)")
                    )
            elif kind == "telegram" and contact.to is None and not channel.chat_id:
                issues.append(
                    (
                        loc,
                        f"a telegram contact needs to: a chat id ({contact.channel!r} has no chat_id)",
                    )
                )
            elif kind == "email" and contact.to is None and not channel.to:
                issues.append((loc, f"an email contact needs to: an address ({contact.channel!r} has no to)"))
    return issues


def _policy_issues(config: Any, oncall: OncallConfig) -> list[Issue]:
    issues: list[Issue] = []
    sections: dict[str, tuple[str, Any]] = {
        "schedule": ("oncall.schedules", oncall.schedules),
        "user": ("oncall.users", oncall.users),
        "channel": ("channels", config.channels),
    }
    for name, policy in oncall.escalation_policies.items():
        for i, level in enumerate(policy.levels):
            for j, target in enumerate(level.targets):
                for field, (where, entries) in sections.items():
                    ref = getattr(target, field)
                    if ref is not None and ref not in entries:
                        known = ", ".join(sorted(entries)) or "none declared"
                        loc = ("oncall", "escalation_policies", name, "levels", i, "targets", j, field)
                        issues.append((loc, f"no {field} named {ref!r} ({where}: {known})"))
    known = ", ".join(sorted(oncall.escalation_policies)) or "none declared"
    for i, route in enumerate(config.alerting.routes):
        if route.policy not in oncall.escalation_policies:
            issues.append(
                (
                    ("alerting", "routes", i, "policy"),
                    f"no escalation policy named {route.policy!r} (oncall.escalation_policies: {known})",
                )
            )
    return issues


def oncall_issues(config: Any) -> list[Issue]:
    """References in ``oncall:``, ``channels:`` and ``alerting.routes`` that point at nothing, and
    schedules that cannot work, as (key path, message) pairs."""
    oncall: OncallConfig = config.oncall
    users = set(oncall.users)
    issues: list[Issue] = []
    for name, sched in oncall.schedules.items():
        issues += _schedule_issues(name, sched, users)
    issues += _contact_issues(config, oncall)
    issues += _policy_issues(config, oncall)
    return issues
