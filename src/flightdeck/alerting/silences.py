"""Silences: alerts whose labels match every matcher of a silence are not notified while it is active.

A matcher is written as Alertmanager writes it: ``service=checkout``, ``service!=checkout``,
``alertname=~disk.*``, ``alertname!~disk.*``. Regular expressions are fully anchored (``disk.*``
matches ``disk-full``, not ``my-disk``), and a missing label counts as the empty string. A silence is
active from ``starts_at`` until ``ends_at`` or until someone expires it, whichever comes first.

As in Alertmanager, a silence needs at least one matcher that does not match the empty string, so
that no silence can mute every alert by accident.

The router reads :func:`active_silences` each step; creating or expiring a silence here is all it
takes for alerts to be suppressed or routed again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator
from sqlalchemy import Connection, RowMapping, and_, insert, or_, select, update

from flightdeck.errors import NotFoundError
from flightdeck.store.tables import silences

__all__ = [
    "Matcher",
    "MatcherOp",
    "Silence",
    "active_silences",
    "create_silence",
    "expire_silence",
    "get_silence",
    "list_silences",
]

MatcherOp = Literal["=", "!=", "=~", "!~"]

_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.DOTALL)


class Matcher(BaseModel):
    """One condition on one label: equal, not equal, matches or does not match a regular expression."""

    model_config = ConfigDict(frozen=True)

    name: str
    op: MatcherOp
    value: str

    @model_validator(mode="after")
    def _check(self) -> Matcher:
        if not _LABEL_NAME.fullmatch(self.name):
            raise ValueError(f"invalid label name {self.name!r}")
        if self.op in ("=~", "!~"):
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {self.value!r}: {exc}") from None
        return self

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """Parse ``name=value``, ``name!=value``, ``name=~regex`` or ``name!~regex`` (the value may be
        in double quotes). Raises ValueError on anything else."""
        found = _MATCHER.match(text)
        if found is None:
            raise ValueError(
                f"invalid matcher {text!r}: expected name=value, name!=value, name=~re or name!~re"
            )
        name, op, value = found.groups()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        return cls(name=name, op=op, value=value)

    def _regex(self) -> re.Pattern[str]:
        return _compiled(self.value)

    def matches_value(self, value: str) -> bool:
        """Whether a label value (the empty string when the label is missing) satisfies the matcher."""
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        hit = self._regex().fullmatch(value) is not None
        return hit if self.op == "=~" else not hit

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy the matcher; a missing label counts as the empty string."""
        return self.matches_value(str(labels.get(self.name, "")))

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.value}"


_REGEX_CACHE: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    compiled = _REGEX_CACHE.get(pattern)
    if compiled is None:
        compiled = re.compile(f"^(?:{pattern})$")
        if len(_REGEX_CACHE) > 1024:
            _REGEX_CACHE.clear()
        _REGEX_CACHE[pattern] = compiled
    return compiled


@dataclass(frozen=True)
class Silence:
    """A stored silence."""

    id: int
    matchers: list[Matcher]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    created_at: datetime
    expired_at: datetime | None = None
    expired_by: str | None = None

    def active(self, now: datetime) -> bool:
        """Started, not yet ended and not expired by hand."""
        if self.expired_at is not None and self.expired_at <= now:
            return False
        return self.starts_at <= now < self.ends_at

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether every matcher matches ``labels`` (regardless of time)."""
        return all(m.matches(labels) for m in self.matchers)

    def state(self, now: datetime) -> str:
        """``pending`` (starts later), ``active`` or ``expired``, as Alertmanager names them."""
        if self.active(now):
            return "active"
        if self.expired_at is None and now < self.starts_at:
            return "pending"
        return "expired"

    def describe(self) -> str:
        """The matchers as one line, e.g. ``service=checkout, alertname=~disk.*``."""
        return ", ".join(str(m) for m in self.matchers)

    @classmethod
    def from_row(cls, r: RowMapping | Mapping[str, Any]) -> Silence:
        return cls(
            id=int(r["id"]),
            matchers=[Matcher.model_validate(m) for m in (r["matchers"] or [])],
            starts_at=r["starts_at"],
            ends_at=r["ends_at"],
            created_by=r["created_by"],
            comment=r["comment"],
            created_at=r["created_at"],
            expired_at=r["expired_at"],
            expired_by=r["expired_by"],
        )


def _aware(name: str, value: datetime) -> None:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")


def create_silence(
    conn: Connection,
    matchers: list[Matcher],
    starts_at: datetime | None,
    ends_at: datetime,
    created_by: str,
    comment: str,
    now: datetime,
) -> int:
    """Store a silence and return its id. ``starts_at`` None means now. Raises ValueError when there
    is no matcher, every matcher matches the empty string, the end is not after the start, the end
    is already past, or the comment or author is empty."""
    start = now if starts_at is None else starts_at
    for name, value in (("starts_at", start), ("ends_at", ends_at), ("now", now)):
        _aware(name, value)
    if not matchers:
        raise ValueError("a silence needs at least one matcher")
    if all(m.matches_value("") for m in matchers):
        raise ValueError(
            "at least one matcher must not match the empty string (it would silence every alert)"
        )
    if ends_at <= start:
        raise ValueError("a silence must end after it starts")
    if ends_at <= now:
        raise ValueError("a silence cannot end in the past")
    if not comment.strip():
        raise ValueError("a silence needs a comment")
    if not created_by.strip():
        raise ValueError("a silence needs an author")
    result = conn.execute(
        insert(silences).values(
            matchers=[m.model_dump() for m in matchers],
            starts_at=start,
            ends_at=ends_at,
            created_by=created_by.strip()[:100],
            comment=comment.strip(),
            created_at=now,
        )
    )
    pk = result.inserted_primary_key
    assert pk is not None
    return int(pk[0])


def get_silence(conn: Connection, silence_id: int) -> Silence:
    """The silence with this id (NotFoundError if there is none)."""
    row = conn.execute(select(silences).where(silences.c.id == silence_id)).mappings().first()
    if row is None:
        raise NotFoundError(f"no silence {silence_id}")
    return Silence.from_row(row)


def expire_silence(conn: Connection, silence_id: int, actor: str, now: datetime) -> bool:
    """End a silence now. True if it was pending or active; False if it had already ended or been
    expired. NotFoundError if there is no such silence."""
    _aware("now", now)
    result = conn.execute(
        update(silences)
        .where(and_(silences.c.id == silence_id, silences.c.expired_at.is_(None), silences.c.ends_at > now))
        .values(expired_at=now, expired_by=actor[:100])
    )
    if result.rowcount:
        return True
    get_silence(conn, silence_id)  # raises NotFoundError when missing
    return False


def list_silences(conn: Connection, now: datetime, include_expired: bool = False) -> list[Silence]:
    """Silences that are active or pending (start later), newest first; ``include_expired`` adds the
    ended and expired ones."""
    query = select(silences).order_by(silences.c.id.desc())
    if not include_expired:
        query = query.where(
            and_(silences.c.ends_at > now, or_(silences.c.expired_at.is_(None), silences.c.expired_at > now))
        )
    return [Silence.from_row(r) for r in conn.execute(query).mappings()]


def active_silences(conn: Connection, now: datetime) -> list[Silence]:
    """Silences in force now, oldest first."""
    query = (
        select(silences)
        .where(
            and_(
                silences.c.starts_at <= now,
                silences.c.ends_at > now,
                or_(silences.c.expired_at.is_(None), silences.c.expired_at > now),
            )
        )
        .order_by(silences.c.id)
    )
    return [Silence.from_row(r) for r in conn.execute(query).mappings()]
