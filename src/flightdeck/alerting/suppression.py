"""Why an alert is not notified: a maintenance window, a silence, or inhibition by another alert.

The checks run in that order and the first that applies wins (``alerts.suppressed`` holds one of
:class:`~flightdeck.alerting.model.Suppression`, ``suppressed_by`` names the window, the silence id
or the inhibiting alert's fingerprint).

Inhibition: while a firing alert matches an inhibit rule's ``source`` and is neither silenced nor
in a maintenance window, alerts matching its ``target`` with the same values of the ``equal``
labels are inhibited (a label missing on both counts as equal). An alert never inhibits itself.
Without ``alerting.inhibit``, the default rule applies: an open P1 suppresses P2 and P3 alerts of the
same service. ``inhibit: []`` turns inhibition off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, select

from flightdeck.alerting.maintenance import active_windows, window_matches
from flightdeck.alerting.model import AlertState, Suppression
from flightdeck.alerting.silences import Silence, active_silences
from flightdeck.config.alerting import InhibitRule, MaintenanceWindow
from flightdeck.config.models import Config
from flightdeck.store.tables import alerts

__all__ = [
    "DEFAULT_INHIBIT",
    "SuppressionContext",
    "Verdict",
    "inhibit_rules",
    "label_match",
    "load_context",
]

DEFAULT_INHIBIT = InhibitRule(source={"severity": "P1"}, target={"severity": ["P2", "P3"]}, equal=["service"])


def inhibit_rules(config: Config) -> list[InhibitRule]:
    """The configured inhibit rules, or the default rule when none are configured."""
    configured = config.alerting.inhibit
    return [DEFAULT_INHIBIT] if configured is None else list(configured)


def label_match(conditions: Mapping[str, str | list[str]], labels: Mapping[str, str]) -> bool:
    """Every condition holds: the label equals the value, or one of the values of a list."""
    for name, wanted in conditions.items():
        have = labels.get(name, "")
        if isinstance(wanted, list):
            if have not in wanted:
                return False
        elif have != wanted:
            return False
    return True


@dataclass(frozen=True)
class Verdict:
    """``kind`` None: not suppressed."""

    kind: Suppression | None = None
    by: str | None = None


@dataclass(frozen=True)
class _Source:
    fingerprint: str
    labels: dict[str, str]


@dataclass
class SuppressionContext:
    """What suppression depends on at one instant: open windows, active silences, inhibiting alerts."""

    now: datetime
    windows: list[MaintenanceWindow]
    silences: list[Silence]
    rules: list[InhibitRule]
    sources: list[list[_Source]] = field(default_factory=list)  # per rule, the alerts inhibiting

    def muted(self, labels: Mapping[str, str]) -> Verdict:
        """Maintenance or silence (inhibition aside)."""
        for window in self.windows:
            if window_matches(window, labels):
                return Verdict(Suppression.MAINTENANCE, window.name[:200])
        for silence in self.silences:
            if silence.matches(labels):
                return Verdict(Suppression.SILENCED, str(silence.id))
        return Verdict()

    def verdict(self, fp: str, labels: Mapping[str, str]) -> Verdict:
        """Why an alert with this fingerprint and these labels is suppressed, if it is."""
        muted = self.muted(labels)
        if muted.kind is not None:
            return muted
        for rule, sources in zip(self.rules, self.sources, strict=True):
            if not label_match(rule.target, labels):
                continue
            for src in sources:
                if src.fingerprint != fp and all(
                    src.labels.get(k, "") == labels.get(k, "") for k in rule.equal
                ):
                    return Verdict(Suppression.INHIBITED, src.fingerprint)
        return Verdict()

    def is_source(self, labels: Mapping[str, str]) -> bool:
        """Whether an alert with these labels can inhibit others (its changes matter to them)."""
        return any(label_match(rule.source, labels) for rule in self.rules)

    def signature(self) -> tuple[tuple[str, ...], tuple[int, ...], tuple[tuple[str, ...], ...]]:
        """Changes when a window opens or closes, a silence starts or ends, or an inhibitor changes."""
        return (
            tuple(w.name for w in self.windows),
            tuple(s.id for s in self.silences),
            tuple(tuple(sorted(s.fingerprint for s in group)) for group in self.sources),
        )


def load_context(conn: Connection, config: Config, now: datetime) -> SuppressionContext:
    """Read the silences and the firing alerts that inhibit others, as of ``now``."""
    ctx = SuppressionContext(
        now=now,
        windows=active_windows(config.alerting.maintenance, now),
        silences=active_silences(conn, now),
        rules=inhibit_rules(config),
    )
    ctx.sources = [[] for _ in ctx.rules]
    if ctx.rules:
        rows = conn.execute(
            select(alerts.c.fingerprint, alerts.c.labels).where(alerts.c.state == AlertState.FIRING.value)
        )
        for fp, labels in rows:
            lab = {str(k): str(v) for k, v in dict(labels or {}).items()}
            if not any(label_match(rule.source, lab) for rule in ctx.rules):
                continue
            if ctx.muted(lab).kind is not None:
                continue
            for i, rule in enumerate(ctx.rules):
                if label_match(rule.source, lab):
                    ctx.sources[i].append(_Source(fp, lab))
    return ctx
