"""The rule engine: evidence and log lines in, alerts out.

:class:`RuleEngine` runs in the process holding the ``alerting`` lease. Each :meth:`RuleEngine.step`:

1. reads evidence records past the watermark (``alerting_cursors`` row ``evidence``) in batches,
   sends each record only to the rules indexed for its (service, check, kind), applies their
   decisions (fire, pending, resolve) and advances the watermark in the same transaction. On the
   very first start the watermark begins at the newest record: history is not alerted on, though
   rules read it to seed their state (runs in a row, a threshold's window);
2. every ``alerting.evaluation_interval``, evaluates what time alone decides: a ``for`` that has
   elapsed, ``missing`` evidence, log windows;
3. reads new lines of every log source and evaluates the log rules.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select

from flightdeck.alerting.logs import LogEvaluator, LogRateEvaluator, LogReader, LogSpikeEvaluator
from flightdeck.alerting.rules import build_evaluators
from flightdeck.alerting.rules.base import AlertBook, CheckInfo, Decision, EvidenceRow
from flightdeck.alerting.rules.cursors import load_cursor, save_cursor
from flightdeck.alerting.rules.evaluator import EvidenceRule, RuleIndex
from flightdeck.alerting.rules.history import read_history, read_new
from flightdeck.alerting.rules.missing import MissingEvaluator
from flightdeck.alerting.starter import effective_rules
from flightdeck.clock import Clock
from flightdeck.config.alerting import LogRateRule, LogSpikeRule
from flightdeck.config.models import Config
from flightdeck.store import Store
from flightdeck.store.tables import check_state, evidence

__all__ = ["RuleEngine"]

log = logging.getLogger(__name__)

EVIDENCE_CURSOR = "evidence"


class RuleEngine:
    """Evaluates alert rules over new evidence and log lines; see the module docstring."""

    def __init__(
        self,
        config: Config,
        store: Store,
        clock: Clock,
        node_id: str,
        *,
        batch_size: int = 1000,
        max_batches: int = 20,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.node_id = node_id
        self.batch_size = batch_size
        self.max_batches = max_batches
        self.enabled = config.alerting.enabled
        self.rules = effective_rules(config.alerting)
        self.checks: dict[tuple[str, str], CheckInfo] = {
            (svc, spec.name): CheckInfo(svc, spec.name, spec.kind, dict(spec.labels), spec)
            for svc, spec in config.iter_checks()
        }
        self.malformed_total = 0
        self._reset()

    def _reset(self) -> None:
        """Forget every in-memory state; it is rebuilt from the store on the next step."""
        evidence_rules, missing = build_evaluators(self.rules, self.config.defaults)
        self.index = RuleIndex(evidence_rules)
        self.missing: list[MissingEvaluator] = missing
        self.book = AlertBook()
        self.watermark: int | None = None
        self.last_tick: datetime | None = None
        self.last_seen: dict[str, datetime] = {}
        self.check_rows: dict[str, tuple[bool, bool]] = {}  # subject → (enabled, retired)
        self.check_rows_at: datetime | None = None
        self._started: datetime | None = None
        old = getattr(self, "readers", [])
        for reader in old:
            reader.close()
        self.readers: list[LogReader] = []
        self._readers_built = False

    # -- public -------------------------------------------------------------------------------

    async def step(self, now: datetime) -> int:
        """Evaluate what is new since the last step; returns the evidence records, log lines and
        alert changes handled."""
        if not self.enabled:
            return 0
        try:
            return await asyncio.to_thread(self._step, now)
        except Exception:
            self._reset()  # nothing half-applied stays in memory; the store is the truth
            raise

    async def close(self) -> None:
        for reader in self.readers:
            reader.close()
        self.readers = []

    # -- one step -------------------------------------------------------------------------------

    def _step(self, now: datetime) -> int:
        done = 0
        if self._started is None:
            self._start(now)
        for _ in range(self.max_batches):
            handled, more = self._evidence_batch(now)
            done += handled
            if not more:
                break
        interval = timedelta(seconds=self.config.alerting.evaluation_interval)
        if self.last_tick is None or now - self.last_tick >= interval:
            done += self._tick(now)
            self.last_tick = now
        return done

    def _start(self, now: datetime) -> None:
        with self.store.engine.begin() as conn:
            self.book.load(conn, self.rules)
            saved = load_cursor(conn, EVIDENCE_CURSOR)
            if saved is None:
                newest = conn.execute(select(func.max(evidence.c.id))).scalar()
                self.watermark = int(newest or 0)
                save_cursor(conn, EVIDENCE_CURSOR, self.watermark, {"node": self.node_id}, now)
            else:
                self.watermark = saved[0]
        self._started = now

    def _info(self, row: EvidenceRow) -> CheckInfo:
        info = self.checks.get((row.service, row.check))
        if info is None or info.kind != row.kind:
            info = CheckInfo(row.service, row.check, row.kind)
        return info

    def _evidence_batch(self, now: datetime) -> tuple[int, bool]:
        with self.store.engine.begin() as conn:
            saved = load_cursor(conn, EVIDENCE_CURSOR)
            position = saved[0] if saved is not None else 0
            if position != self.watermark:  # another process evaluated meanwhile: start over
                log.info(
                    "evidence watermark moved from %s to %s elsewhere; reloading", self.watermark, position
                )
                self._reset()
                self._started = now
                self.book.load(conn, self.rules)
                self.watermark = position
            rows = read_new(conn, position, self.batch_size)
            if not rows:
                return 0, False
            self._seed(conn, rows, position, now)
            changed = 0
            for row in rows:
                info = self._info(row)
                self.last_seen[info.subject] = row.finished_at
                for rule in self.index.for_check(info):
                    decision = rule.observe(row, info, now, self.book)
                    if decision is not None:
                        changed += self.book.apply(conn, decision, now)
            self.book.flush(conn, now)
            last = rows[-1].id
            save_cursor(conn, EVIDENCE_CURSOR, last, {"node": self.node_id}, now)
        self.watermark = last
        return len(rows) + changed, len(rows) >= self.batch_size

    def _seed(self, conn: Connection, rows: Sequence[EvidenceRow], before: int, now: datetime) -> None:
        """Seed rules meeting a check for the first time with its history (one query per batch)."""
        wanted: dict[str, tuple[CheckInfo, list[EvidenceRule]]] = {}
        for row in rows:
            info = self._info(row)
            for rule in self.index.for_check(info):
                if not rule.seeded(info.subject):
                    wanted.setdefault(info.subject, (info, []))
                    if rule not in wanted[info.subject][1]:
                        wanted[info.subject][1].append(rule)
        if not wanted:
            return
        n = max(r.history_rows for _, rules in wanted.values() for r in rules)
        seconds = max(r.history_seconds for _, rules in wanted.values() for r in rules)
        history = read_history(
            conn, list(wanted), before, n, now - timedelta(seconds=seconds) if seconds else None
        )
        for subject, (info, rules) in wanted.items():
            past = history.get(subject, [])
            for rule in rules:
                rows_for_rule = past[-rule.history_rows :] if rule.history_rows else []
                if rule.history_seconds:
                    cutoff = now - timedelta(seconds=rule.history_seconds)
                    recent = [r for r in past if r.finished_at > cutoff]
                    if len(recent) > len(rows_for_rule):
                        rows_for_rule = recent
                rule.seed(info, rows_for_rule)

    # -- time -----------------------------------------------------------------------------------

    def _tick(self, now: datetime) -> int:
        changed = 0
        with self.store.engine.begin() as conn:
            decisions: list[Decision] = []
            for rule in self.index.rules:
                decisions.extend(rule.tick(now, self.book))
            if self.missing:
                decisions.extend(self._missing(conn, now))
            lines = 0
            for reader in self._log_readers():
                lines += reader.poll(conn, now)
                for evaluator in reader.rules:
                    decisions.extend(evaluator.evaluate(now, self.book))
            for decision in decisions:
                changed += self.book.apply(conn, decision, now)
            self.book.flush(conn, now)
            for reader in self.readers:
                reader.save(conn, now)
        return changed + lines

    def _missing(self, conn: Connection, now: datetime) -> list[Decision]:
        if self.check_rows_at is None or now - self.check_rows_at >= timedelta(seconds=30):
            stmt = select(
                check_state.c.subject,
                check_state.c.enabled,
                check_state.c.retired_at,
                check_state.c.last_finished_at,
            )
            self.check_rows = {}
            for r in conn.execute(stmt).mappings():
                self.check_rows[r["subject"]] = (bool(r["enabled"]), r["retired_at"] is not None)
                last = r["last_finished_at"]
                if last is not None and (
                    r["subject"] not in self.last_seen or self.last_seen[r["subject"]] < last
                ):
                    self.last_seen[r["subject"]] = last
            self.check_rows_at = now
        eligible: list[CheckInfo] = []
        started = self._started or now
        for info in self.checks.values():
            if info.spec is not None and not info.spec.enabled:
                continue
            enabled, retired = self.check_rows.get(info.subject, (True, False))
            if not enabled or retired:
                continue
            self.last_seen.setdefault(info.subject, started)
            eligible.append(info)
        out: list[Decision] = []
        for rule in self.missing:
            out.extend(rule.evaluate(eligible, self.last_seen, now, self.book))
        return out

    def _log_readers(self) -> list[LogReader]:
        if self._readers_built:
            return self.readers
        self._readers_built = True
        by_source: dict[str, list[LogEvaluator]] = defaultdict(list)
        started = self._started or self.clock.now()
        for name, rule in self.rules.items():
            if isinstance(rule, LogRateRule | LogSpikeRule):
                source = self.config.alerting.log_sources.get(rule.source)
                if source is None:
                    continue
                cls = LogRateEvaluator if isinstance(rule, LogRateRule) else LogSpikeEvaluator
                by_source[rule.source].append(cls(name, rule, source.service or "", started))
        self.readers = [
            LogReader(name, self.config.alerting.log_sources[name], evaluators)
            for name, evaluators in sorted(by_source.items())
        ]
        return self.readers
