"""Delivery: outbox rows → channels, each notification sent once even with many processes.

Every ``flightdeck serve`` process runs a :class:`Deliverer`. One :meth:`Deliverer.step`:

1. reads due rows — ``pending`` with ``next_attempt_at <= now``, or ``sending`` whose claim expired
   (a process died while sending);
2. claims each by compare-and-set (``state``, ``claim_until`` and ``attempts`` must be what was
   read), so only one process sends it; the claim lasts the channel's timeout plus a grace;
   rows of an acknowledged incident marked ``cancel_on_ack`` are cancelled instead;
3. sends the claimed rows concurrently over one HTTP session;
4. records each outcome by compare-and-set on (``id``, ``sending``, this node's claim): ``sent``;
   ``pending`` again after a backoff (exponential, full jitter, at least the provider's
   ``Retry-After``); or ``dead`` — a dead letter — on a permanent refusal, after ``max_attempts``
   or past ``give_up_after``. Each outcome of an incident's notification is a timeline event.

A 429 with ``Retry-After`` holds the whole channel until then in this process; the row goes back to
pending without using up an attempt. ``rate_limit`` (per minute) is a token bucket per channel and
process. A test notification (``flightdeck notify test``) is tried once: it is not retried later.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from pydantic import ValidationError
from sqlalchemy import Connection, and_, or_, select, update

from flightdeck.alerting.channels.base import Notifier, notifier_for
from flightdeck.alerting.errors import DeliveryError, PermanentDeliveryError, RetryableDeliveryError
from flightdeck.alerting.model import Action, EventKind, IncidentStatus, Message, OutboxState
from flightdeck.alerting.ratelimit import ChannelLimits
from flightdeck.alerting.timeline import add_event
from flightdeck.clock import Clock
from flightdeck.config.channels import ChannelBase
from flightdeck.config.models import Config
from flightdeck.errors import NotFoundError
from flightdeck.secret import MASK
from flightdeck.store import Store
from flightdeck.store.tables import incidents, outbox

__all__ = ["Deliverer", "OutboxOutcome"]

log = logging.getLogger(__name__)

_ACKED = (IncidentStatus.ACKNOWLEDGED.value, IncidentStatus.RESOLVED.value)


@dataclass(frozen=True)
class OutboxOutcome:
    """Where one notification stands after a delivery attempt."""

    outbox_id: int
    channel: str
    state: OutboxState
    attempts: int
    status: int | None
    detail: str
    next_attempt_at: datetime | None = None

    @property
    def sent(self) -> bool:
        return self.state is OutboxState.SENT


@dataclass(frozen=True)
class _Claim:
    id: int
    idempotency_key: str
    incident_id: int | None
    channel: str
    recipient: str | None
    address: str | None
    action: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    claim_until: datetime


@dataclass(frozen=True)
class _Result:
    ok: bool
    permanent: bool
    status: int | None
    detail: str
    retry_after: float | None = None


class Deliverer:
    """Claims due outbox rows, sends them, records the outcomes (see the module docstring)."""

    def __init__(
        self,
        config: Config,
        store: Store,
        clock: Clock,
        node_id: str,
        *,
        batch: int = 200,
        concurrency: int = 32,
        claim_grace: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.node_id = node_id
        self.batch = batch
        self.concurrency = concurrency
        self.claim_grace = claim_grace
        self.limits = ChannelLimits()
        self._rng = rng or random.Random()
        self._session: aiohttp.ClientSession | None = None
        self._notifiers: dict[str, Notifier] = {}
        self._secrets = sorted((s for s in config.secret_values() if s), key=len, reverse=True)

    # -- public -----------------------------------------------------------------------------
    async def step(self, now: datetime) -> int:
        """Claim, send and record what is due at ``now``; the number of rows handled."""
        claims, handled = await asyncio.to_thread(self._claim_due, now)
        if claims:
            await self._send_and_record(claims, now)
        return handled + len(claims)

    async def deliver_one(self, outbox_id: int, now: datetime) -> OutboxOutcome:
        """Claim and send one row now, whatever its ``next_attempt_at`` (``flightdeck notify test``).
        A row that is not pending (sent, dead, or claimed by another process) is left as it is."""
        claim = await asyncio.to_thread(self._claim_one, outbox_id, now)
        if claim is not None:
            await self._send_and_record([claim], now)
        return await asyncio.to_thread(self._outcome, outbox_id)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- claiming ---------------------------------------------------------------------------
    def _due(self, now: datetime) -> Any:
        return or_(
            and_(outbox.c.state == OutboxState.PENDING.value, outbox.c.next_attempt_at <= now),
            and_(outbox.c.state == OutboxState.SENDING.value, outbox.c.claim_until < now),
        )

    def _claim_due(self, now: datetime) -> tuple[list[_Claim], int]:
        channels = self.config.channels
        blocked = [n for n, c in channels.items() if self.limits.blocked(n, c.rate_limit, now)]
        query = select(outbox).where(self._due(now))
        if blocked:
            query = query.where(outbox.c.channel.not_in(blocked))
        query = query.order_by(outbox.c.next_attempt_at, outbox.c.id).limit(self.batch)
        with self.store.engine.begin() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        claims: list[_Claim] = []
        handled = 0
        for row in rows:
            cfg = channels.get(row["channel"])
            if cfg is not None and not self.limits.take(row["channel"], cfg.rate_limit, now):
                continue
            claim, closed = self._claim_row(row, now)
            if claim is not None:
                claims.append(claim)
            else:
                handled += closed
                if cfg is not None:
                    self.limits.give_back(row["channel"])
        return claims, handled

    def _claim_one(self, outbox_id: int, now: datetime) -> _Claim | None:
        with self.store.engine.begin() as conn:
            row = conn.execute(select(outbox).where(outbox.c.id == outbox_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"no notification {outbox_id} in the outbox")
        state = row["state"]
        expired = state == OutboxState.SENDING.value and row["claim_until"] is not None
        if state != OutboxState.PENDING.value and not (expired and row["claim_until"] < now):
            return None
        return self._claim_row(dict(row), now)[0]

    def _cas(self, row: Mapping[str, Any]) -> Any:
        """The row is still as it was read."""
        claim_until = row["claim_until"]
        return and_(
            outbox.c.id == row["id"],
            outbox.c.state == row["state"],
            outbox.c.attempts == row["attempts"],
            outbox.c.claim_until.is_(None) if claim_until is None else outbox.c.claim_until == claim_until,
        )

    def _claim_row(self, row: dict[str, Any], now: datetime) -> tuple[_Claim | None, int]:
        """Claim ``row``; or close it (cancelled / dead) without sending. (claim, rows closed)."""
        cfg = self.config.channels.get(row["channel"])
        with self.store.engine.begin() as conn:
            if row["cancel_on_ack"] and row["incident_id"] is not None:
                status = conn.execute(
                    select(incidents.c.status).where(incidents.c.id == row["incident_id"])
                ).scalar()
                if status in _ACKED:
                    closed = self._close(conn, row, now, OutboxState.CANCELLED, f"incident {status}")
                    return None, closed
            reason = None
            if cfg is None:
                reason = f"channel {row['channel']!r} is not configured"
            elif row["attempts"] >= cfg.max_attempts:
                reason = f"gave up after {row['attempts']} attempts"
            elif now - row["created_at"] >= timedelta(seconds=cfg.give_up_after):
                reason = "gave up: older than give_up_after"
            if reason is not None:
                return None, self._close(conn, row, now, OutboxState.DEAD, reason)
            assert cfg is not None
            claim_until = now + timedelta(seconds=cfg.timeout + self.claim_grace)
            won = conn.execute(
                update(outbox)
                .where(self._cas(row))
                .values(
                    state=OutboxState.SENDING.value,
                    claimed_by=self.node_id,
                    claim_until=claim_until,
                    attempts=outbox.c.attempts + 1,
                )
            ).rowcount
        if won != 1:
            return None, 0
        fields = ("id", "idempotency_key", "incident_id", "channel", "recipient", "address", "action")
        return _Claim(
            **{k: row[k] for k in fields},
            payload=dict(row["payload"]),
            attempts=row["attempts"] + 1,
            created_at=row["created_at"],
            claim_until=claim_until,
        ), 0

    def _close(
        self, conn: Connection, row: Mapping[str, Any], now: datetime, state: OutboxState, reason: str
    ) -> int:
        done = conn.execute(
            update(outbox)
            .where(self._cas(row))
            .values(state=state.value, last_error=reason, claimed_by=None, claim_until=None)
        ).rowcount
        if done == 1:
            kind = (
                EventKind.NOTIFICATION_CANCELLED
                if state is OutboxState.CANCELLED
                else EventKind.NOTIFICATION_DEAD
            )
            text = "cancelled" if state is OutboxState.CANCELLED else "delivery failure"
            self._event(conn, row, kind, f"{text}: {reason}", now, {"reason": reason})
        return int(done == 1)

    # -- sending ----------------------------------------------------------------------------
    def _notifier(self, channel: str) -> Notifier:
        notifier = self._notifiers.get(channel)
        cfg: ChannelBase = self.config.channels[channel]
        if notifier is None or notifier.config is not cfg:
            notifier = self._notifiers[channel] = notifier_for(channel, cfg)
        return notifier

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    async def _attempt(self, claim: _Claim, session: aiohttp.ClientSession) -> _Result:
        cfg = self.config.channels[claim.channel]
        try:
            notifier = self._notifier(claim.channel)
            message = Message.from_payload(claim.payload)
            receipt = await asyncio.wait_for(
                notifier.send(
                    message, address=claim.address, idempotency_key=claim.idempotency_key, session=session
                ),
                timeout=cfg.timeout + 5.0,
            )
        except PermanentDeliveryError as exc:
            return _Result(False, True, exc.status, self._scrub(str(exc)))
        except RetryableDeliveryError as exc:
            return _Result(False, False, exc.status, self._scrub(str(exc)), exc.retry_after)
        except DeliveryError as exc:
            return _Result(False, False, exc.status, self._scrub(str(exc)))
        except ValidationError:
            return _Result(False, True, None, f"{claim.channel}: the stored message is not readable")
        except TimeoutError:
            return _Result(False, False, None, f"{claim.channel}: no answer within {cfg.timeout:g}s")
        except Exception as exc:  # a notifier bug must not stop delivery of the others
            log.warning("delivery %s via %s: unexpected %s", claim.id, claim.channel, type(exc).__name__)
            return _Result(False, False, None, f"{claim.channel}: unexpected {type(exc).__name__}")
        return _Result(True, False, receipt.status, self._scrub(receipt.detail))

    async def _send_and_record(self, claims: list[_Claim], now: datetime) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.concurrency))
        session = self._session
        gate = asyncio.Semaphore(self.concurrency)

        async def one(claim: _Claim) -> tuple[_Claim, _Result]:
            async with gate:
                return claim, await self._attempt(claim, session)

        results = await asyncio.gather(*(one(c) for c in claims))
        await asyncio.to_thread(self._record_all, results, now)

    # -- recording --------------------------------------------------------------------------
    def _record_all(self, results: list[tuple[_Claim, _Result]], now: datetime) -> None:
        for claim, result in results:
            try:
                self._record(claim, result, now)
            except Exception:
                # The claim expires and another pass retries the row: sent at least once more
                # only if the store itself failed between the send and this record.
                log.exception("delivery %s: cannot record the outcome", claim.id)

    def _backoff(self, cfg: ChannelBase, attempts: int) -> float:
        cap = min(cfg.backoff_max, cfg.backoff_base * 2.0 ** max(0, attempts - 1))
        return max(min(cap, 0.5), self._rng.uniform(0.0, cap))

    def _record(self, claim: _Claim, result: _Result, now: datetime) -> None:
        cfg = self.config.channels[claim.channel]
        mine = and_(
            outbox.c.id == claim.id,
            outbox.c.state == OutboxState.SENDING.value,
            outbox.c.claimed_by == self.node_id,
            outbox.c.claim_until == claim.claim_until,
        )
        released = {"claimed_by": None, "claim_until": None, "last_status": result.status}
        row = {
            "id": claim.id,
            "incident_id": claim.incident_id,
            "channel": claim.channel,
            "recipient": claim.recipient,
            "action": claim.action,
        }
        info: dict[str, Any] = {"attempt": claim.attempts, "status": result.status}
        rate_limited = result.status == 429 and result.retry_after is not None
        if result.ok:
            values: dict[str, Any] = {"state": OutboxState.SENT.value, "sent_at": now, "last_error": None}
            kind, text = EventKind.NOTIFICATION_SENT, f"sent ({result.detail})"
        elif rate_limited and not self._expired(cfg, claim, now):
            assert result.retry_after is not None
            until = now + timedelta(seconds=result.retry_after)
            self.limits.hold(claim.channel, until)
            values = {
                "state": OutboxState.PENDING.value,
                "next_attempt_at": until,
                "attempts": claim.attempts - 1,
                "last_error": result.detail,
            }
            kind, text = None, ""
        elif result.permanent or self._exhausted(cfg, claim, now):
            values = {"state": OutboxState.DEAD.value, "last_error": result.detail}
            why = "" if result.permanent else self._exhausted_reason(cfg, claim, now)
            kind, text = EventKind.NOTIFICATION_DEAD, f"delivery failure{why}: {result.detail}"
        else:
            delay = max(self._backoff(cfg, claim.attempts), result.retry_after or 0.0)
            at = now + timedelta(seconds=delay)
            values = {"state": OutboxState.PENDING.value, "next_attempt_at": at, "last_error": result.detail}
            info["next_attempt_at"] = at.isoformat()
            kind = EventKind.NOTIFICATION_FAILED
            text = (
                f"attempt {claim.attempts} failed: {result.detail}; next attempt at {at:%Y-%m-%d %H:%M:%S}Z"
            )
        with self.store.engine.begin() as conn:
            done = conn.execute(update(outbox).where(mine).values(**released, **values)).rowcount
            if done != 1:
                log.warning("delivery %s: the claim was lost before the outcome was recorded", claim.id)
                return
            if kind is not None:
                self._event(conn, row, kind, text, now, info)

    def _expired(self, cfg: ChannelBase, claim: _Claim, now: datetime) -> bool:
        return claim.action == Action.TEST.value or now - claim.created_at >= timedelta(
            seconds=cfg.give_up_after
        )

    def _exhausted(self, cfg: ChannelBase, claim: _Claim, now: datetime) -> bool:
        return claim.attempts >= cfg.max_attempts or self._expired(cfg, claim, now)

    def _exhausted_reason(self, cfg: ChannelBase, claim: _Claim, now: datetime) -> str:
        if claim.action == Action.TEST.value:
            return " (a test is not retried)"
        if claim.attempts >= cfg.max_attempts:
            return f" after {claim.attempts} attempts"
        return " (older than give_up_after)"

    def _event(
        self,
        conn: Connection,
        row: Mapping[str, Any],
        kind: EventKind,
        text: str,
        now: datetime,
        info: Mapping[str, Any],
    ) -> None:
        if row["incident_id"] is None or row["action"] == Action.TEST.value:
            return
        who = f" to {row['recipient']}" if row["recipient"] else ""
        detail = {"outbox_id": row["id"], "channel": row["channel"], "recipient": row["recipient"], **info}
        add_event(
            conn,
            int(row["incident_id"]),
            kind,
            self._scrub(f"{row['action']} via {row['channel']}{who}: {text}"),
            at=now,
            detail=detail,
        )

    def _outcome(self, outbox_id: int) -> OutboxOutcome:
        with self.store.engine.begin() as conn:
            row = conn.execute(select(outbox).where(outbox.c.id == outbox_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"no notification {outbox_id} in the outbox")
        state = OutboxState(row["state"])
        detail = row["last_error"] or ""
        if state is OutboxState.SENT:
            detail = f"sent via {row['channel']}" + (
                f" (status {row['last_status']})" if row["last_status"] else ""
            )
        return OutboxOutcome(
            outbox_id=outbox_id,
            channel=row["channel"],
            state=state,
            attempts=row["attempts"],
            status=row["last_status"],
            detail=detail,
            next_attempt_at=row["next_attempt_at"] if state is OutboxState.PENDING else None,
        )
