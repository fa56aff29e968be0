"""Escalation: notifying the targets of one level of an incident's policy, and what comes next.

A level's targets are a ``schedule`` (whoever is on call at that moment), a ``user`` (each of their
contact methods, in the configured order; a contact with ``after`` waits that long and is cancelled
if the incident is acknowledged first) or a ``channel`` (the channel itself). Every notification is
enqueued with an idempotency key made of the incident, round, level, channel, user and contact
position (``inc12:r0:l1:whatsapp:abebe:0``), so notifying the same level twice stores it once.

After a level's ``timeout`` without acknowledgement the next level is notified; after the last
level the policy starts again from the first, ``repeat`` more times; then escalation stops.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from flightdeck.alerting.errors import ScheduleError
from flightdeck.alerting.model import Message
from flightdeck.alerting.outbox import enqueue
from flightdeck.config.models import Config
from flightdeck.config.oncall import EscalationLevel, EscalationPolicy
from flightdeck.errors import NotFoundError

__all__ = ["Contact", "level_contacts", "next_step", "notify_level", "policy_of"]

log = logging.getLogger(__name__)


def policy_of(config: Config, name: str | None) -> EscalationPolicy | None:
    return None if name is None else config.oncall.escalation_policies.get(name)


def next_step(policy: EscalationPolicy, level: int, round_: int) -> tuple[int, int] | None:
    """The (level, round) after ``level`` of ``round_`` times out, or None when escalation is over."""
    if level + 1 < len(policy.levels):
        return level + 1, round_
    if round_ < policy.repeat:
        return 0, round_ + 1
    return None


@dataclass(frozen=True)
class Contact:
    """One notification of a level: a channel, and for a person their name, address and delay."""

    channel: str
    user: str | None
    address: str | None
    delay: float
    index: int


def _user_contacts(config: Config, user: str) -> list[Contact]:
    person = config.oncall.users.get(user)
    if person is None:
        log.warning("escalation: unknown user %s", user)
        return []
    return [Contact(c.channel, user, c.to, float(c.after), i) for i, c in enumerate(person.contacts)]


def level_contacts(config: Config, level: EscalationLevel, now: datetime) -> list[Contact]:
    """Who a level notifies at ``now``, without duplicates."""
    out: list[Contact] = []
    for target in level.targets:
        if target.channel is not None:
            out.append(Contact(target.channel, None, None, 0.0, 0))
        if target.user is not None:
            out.extend(_user_contacts(config, target.user))
        if target.schedule is not None:
            from flightdeck.alerting.oncall import on_call

            try:
                people = on_call(config, target.schedule, now)
            except (ScheduleError, NotFoundError) as exc:
                log.error("escalation: schedule %s cannot be resolved: %s", target.schedule, exc)
                people = []
            for user in people:
                out.extend(_user_contacts(config, user))
    seen: set[tuple[str, str | None, int]] = set()
    unique: list[Contact] = []
    for c in out:
        if (c.channel, c.user, c.index) not in seen:
            seen.add((c.channel, c.user, c.index))
            unique.append(c)
    return unique


def notify_level(
    conn: Connection,
    config: Config,
    policy: EscalationPolicy,
    incident_id: int,
    level: int,
    round_: int,
    message: Message,
    now: datetime,
) -> int:
    """Enqueue ``message`` for every contact of ``level``; returns how many were newly stored."""
    stored = 0
    for c in level_contacts(config, policy.levels[level], now):
        key = f"inc{incident_id}:r{round_}:l{level}:{c.channel}:{c.user or '-'}:{c.index}"
        done = enqueue(
            conn,
            idempotency_key=key,
            channel=c.channel,
            message=message,
            now=now,
            recipient=c.user,
            address=c.address,
            delay=c.delay,
            cancel_on_ack=c.delay > 0,
        )
        stored += int(done.created)
    return stored
