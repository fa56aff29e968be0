"""Security rules over a service's own logs: JSON-lines files followed like ``tail -F``.

Each log source (``alerting.log_sources``) is read from where it was left (``alerting_cursors`` row
``log:<name>``: inode and offset, saved in the transaction that writes the alerts). A line that is
not a JSON object is skipped and counted (``malformed``). A line's time is its ``time_field`` (ISO
8601, or Unix seconds / milliseconds), else the time it was read.

- ``log_rate``: more than ``more_than`` matching lines per ``by`` value within the sliding ``window``
  fires one alert per value (label ``<by>=<value>``, e.g. ``ip=203.0.113.9``); it resolves when the
  count falls back.
- ``log_spike``: one value's rate over ``window`` above ``factor`` × its own rate over the
  ``baseline`` before the window (a value never seen before counts as one line in the baseline),
  with at least ``min_count`` lines in the window.

Counts live in memory: after a restart they start anew, and alerts left open are resolved once a
whole window has passed without the condition being seen again.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from flightdeck.alerting.logtail import LogTail, TailPosition
from flightdeck.alerting.rules.base import Act, AlertBook, Decision, build_alert
from flightdeck.alerting.rules.cursors import load_cursor, save_cursor
from flightdeck.alerting.templates import human_duration, render_summary
from flightdeck.config.alerting import LogRateRule, LogSourceConfig, LogSpikeRule

__all__ = ["LogEvaluator", "LogEvent", "LogRateEvaluator", "LogReader", "LogSpikeEvaluator", "event_time"]

log = logging.getLogger(__name__)

_Match = Mapping[str, str | int | bool | list[str | int]]


def event_time(value: Any, fallback: datetime) -> datetime:
    """A line's time: ISO 8601 text (``Z`` allowed; no offset means UTC), or Unix seconds (or
    milliseconds, when larger than 10^11); ``fallback`` when absent or unreadable."""
    try:
        if isinstance(value, bool) or value is None:
            return fallback
        if isinstance(value, int | float):
            seconds = float(value) / 1000 if value > 1e11 else float(value)
            return datetime.fromtimestamp(seconds, UTC)
        if isinstance(value, str) and value:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        pass
    return fallback


def _equal(actual: Any, expected: str | int | bool) -> bool:
    if actual == expected and type(actual) is type(expected):
        return True
    if isinstance(actual, bool) or isinstance(expected, bool):
        return str(actual).lower() == str(expected).lower()
    return str(actual) == str(expected)


def matches(fields: Mapping[str, Any], match: _Match) -> bool:
    """Every field of ``match`` present with the value (or one of the values) given."""
    for name, expected in match.items():
        if name not in fields:
            return False
        actual = fields[name]
        options = expected if isinstance(expected, list) else [expected]
        if not any(_equal(actual, e) for e in options):
            return False
    return True


@dataclass(frozen=True)
class LogEvent:
    time: datetime
    fields: Mapping[str, Any]


class LogEvaluator:
    """Counts matching lines per key and decides per key."""

    def __init__(self, name: str, rule: LogRateRule | LogSpikeRule, service: str, started: datetime) -> None:
        self.name = name
        self.rule = rule
        self.service = service
        self.started = started
        self.buckets: dict[str, deque[list[int]]] = {}  # key → [[unix second, count], ...]
        self._fps: dict[str, str] = {}

    @property
    def span(self) -> float:
        return self.rule.window

    def feed(self, event: LogEvent) -> None:
        if not matches(event.fields, self.rule.match):
            return
        raw = event.fields.get(self.rule.by)
        if raw is None or isinstance(raw, dict | list):
            return
        key = str(raw)[:200]
        second = int(event.time.timestamp())
        dq = self.buckets.setdefault(key, deque())
        if dq and dq[-1][0] == second:
            dq[-1][1] += 1
        elif dq and dq[-1][0] > second:  # out of order: count it where it belongs
            for b in dq:
                if b[0] == second:
                    b[1] += 1
                    break
            else:
                dq.append([second, 1])
                self.buckets[key] = deque(sorted(dq))
        else:
            dq.append([second, 1])

    def _count(self, dq: deque[list[int]], start: float, end: float) -> int:
        return sum(c for s, c in dq if start < s <= end)

    def alert_labels(self, key: str) -> dict[str, str]:
        return {self.rule.by: key}

    def fingerprint(self, key: str) -> str:
        fp = self._fps.get(key)
        if fp is None:
            fp = self._fps[key] = build_alert(
                self.name, self.rule, self.service, self.alert_labels(key), ""
            ).fingerprint
        return fp

    def holds(self, dq: deque[list[int]], now: float) -> tuple[bool, float, float]:
        """(condition, count in window, threshold) for one key."""
        raise NotImplementedError

    def summary(self, key: str, count: float, threshold: float) -> str:
        raise NotImplementedError

    def evaluate(self, now: datetime, book: AlertBook) -> list[Decision]:
        t = now.timestamp()
        horizon = t - self.span
        out: list[Decision] = []
        seen: set[str] = set()
        for key in list(self.buckets):
            dq = self.buckets[key]
            while dq and dq[0][0] <= horizon:
                dq.popleft()
            fp = self.fingerprint(key)
            if not dq:
                del self.buckets[key]
                del self._fps[key]
                if book.get(fp) is not None:
                    out.append(Decision(Act.RESOLVE, fp))
                continue
            seen.add(fp)
            held, count, threshold = self.holds(dq, t)
            if held:
                alert = build_alert(
                    self.name,
                    self.rule,
                    self.service,
                    self.alert_labels(key),
                    self.summary(key, count, threshold),
                    value=count,
                )
                out.append(Decision(Act.FIRE, fp, alert))
            elif book.get(fp) is not None:
                out.append(Decision(Act.RESOLVE, fp))
        if now - self.started >= timedelta(seconds=self.rule.window):
            out.extend(
                Decision(Act.RESOLVE, a.fingerprint)
                for a in book.of_rule(self.name)
                if a.fingerprint not in seen
            )
        return out

    def _variables(self, key: str, count: float) -> dict[str, Any]:
        return {
            "rule": self.name,
            "severity": self.rule.severity.value,
            "service": self.service,
            "source": self.rule.source,
            "by": self.rule.by,
            "key": key,
            self.rule.by: key,
            "count": int(count),
            "value": count,
            "window": human_duration(self.rule.window),
            "labels": dict(self.rule.labels),
        }


class LogRateEvaluator(LogEvaluator):
    rule: LogRateRule

    def holds(self, dq: deque[list[int]], now: float) -> tuple[bool, float, float]:
        count = self._count(dq, now - self.rule.window, now + 1)
        return count > self.rule.more_than, float(count), float(self.rule.more_than)

    def summary(self, key: str, count: float, threshold: float) -> str:
        default = (
            f"{int(count)} matching lines from {self.rule.by}={key} in {human_duration(self.rule.window)} "
            f"(more than {int(threshold)})"
        )
        variables = self._variables(key, count) | {"threshold": int(threshold)}
        return render_summary(self.rule.summary, variables, default)


class LogSpikeEvaluator(LogEvaluator):
    rule: LogSpikeRule

    @property
    def span(self) -> float:
        return self.rule.baseline

    def holds(self, dq: deque[list[int]], now: float) -> tuple[bool, float, float]:
        rule = self.rule
        recent = self._count(dq, now - rule.window, now + 1)
        before = self._count(dq, now - rule.baseline, now - rule.window)
        baseline_rate = max(before, 1) / (rule.baseline - rule.window)
        threshold = rule.factor * baseline_rate * rule.window
        return recent >= rule.min_count and recent > threshold, float(recent), threshold

    def summary(self, key: str, count: float, threshold: float) -> str:
        rule = self.rule
        baseline = threshold / rule.factor
        default = (
            f"{rule.by}={key}: {int(count)} lines in {human_duration(rule.window)}, "
            f"{count / max(baseline, 1e-9):.3g}× its baseline (limit {rule.factor:g}×)"
        )
        variables = self._variables(key, count) | {
            "threshold": threshold,
            "baseline_rate": baseline / rule.window,
            "factor": rule.factor,
        }
        return render_summary(rule.summary, variables, default)


class LogReader:
    """One log source: its tail, its rules, and its cursor ``log:<name>``."""

    def __init__(self, name: str, source: LogSourceConfig, rules: list[LogEvaluator]) -> None:
        self.name = name
        self.source = source
        self.rules = rules
        self.cursor = f"log:{name}"
        self.tail: LogTail | None = None
        self.malformed = 0
        self.lines = 0

    def _load(self, conn: Connection) -> LogTail:
        saved = load_cursor(conn, self.cursor)
        position: TailPosition | None = None
        if saved is not None:
            inode = saved[1].get("inode")
            if isinstance(inode, int):
                position = TailPosition(inode, saved[0])
                self.malformed = int(saved[1].get("malformed", 0) or 0)
        return LogTail(self.source.path, position, start_at_end=self.source.start_at_end)

    def poll(self, conn: Connection, now: datetime) -> int:
        """Read new lines and count them into the rules; returns the number of lines read."""
        if self.tail is None:
            self.tail = self._load(conn)
        raw = self.tail.read()
        for line in raw:
            try:
                fields = json.loads(line)
            except ValueError:
                self.malformed += 1
                continue
            if not isinstance(fields, dict):
                self.malformed += 1
                continue
            event = LogEvent(event_time(fields.get(self.source.time_field), now), fields)
            for rule in self.rules:
                rule.feed(event)
        self.lines += len(raw)
        return len(raw)

    def save(self, conn: Connection, now: datetime) -> None:
        """Persist the tail's position (in the caller's transaction)."""
        position = self.tail.position if self.tail is not None else None
        if position is None:
            return
        detail = {"inode": position.inode, "path": str(self.source.path), "malformed": self.malformed}
        save_cursor(conn, self.cursor, position.offset, detail, now)

    def close(self) -> None:
        if self.tail is not None:
            self.tail.close()
            self.tail = None
