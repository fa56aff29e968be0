"""Synthetic users for the demo payments service: sign-ups, logins, top-ups, bookings, payments.

A bounded-rate aiohttp client: one action every ``1/rate`` seconds and never more than
``concurrency`` in flight (when the service is slow, ticks are skipped rather than queued, so the
generator never piles on). Every action is counted by its outcome. A service that is down is
counted as ``unreachable`` and retried on the next tick; the generator never stops on its own.

Run alone: ``python -m flightdeck.demo.traffic --url https://127.0.0.1:8461 --ca ca.pem --rate 2``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import enum
import logging
import random
import secrets
import ssl
import sys
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from flightdeck.clock import Clock, SystemClock

__all__ = ["Action", "TrafficGenerator", "TrafficSettings", "TrafficStats"]

log = logging.getLogger(__name__)


class Action(enum.StrEnum):
    SIGNUP = "signup"
    LOGIN = "login"
    TOPUP = "topup"
    BOOKING = "booking"
    PAYMENT = "payment"
    WALLET = "wallet"


_WEIGHTS = {
    Action.SIGNUP: 8,
    Action.LOGIN: 8,
    Action.TOPUP: 22,
    Action.BOOKING: 30,
    Action.PAYMENT: 20,
    Action.WALLET: 12,
}
_ITEMS = ("flight ADD-NBO", "hotel 2 nights", "bus ticket", "concert", "museum pass", "taxi ride")
_MERCHANTS = ("ethio-telecom", "coffee-house", "bookshop", "pharmacy", "grocer")


@dataclass(frozen=True)
class TrafficSettings:
    base_url: str
    ca_file: Path | None = None
    rate: float = 2.0  # actions per second, at most
    concurrency: int = 4
    max_users: int = 200
    declined_card_ratio: float = 0.02  # top-ups with a card the gateway declines
    retry_ratio: float = 0.1  # top-ups and payments sent twice with the same Idempotency-Key
    seed: int | None = None
    request_timeout: float = 10.0


@dataclass
class TrafficStats:
    """``outcomes[(action, outcome)]``: outcome is the HTTP status, or ``unreachable``/``timeout``."""

    outcomes: Counter[tuple[Action, str]] = field(default_factory=Counter)
    skipped: int = 0

    def count(self, action: Action, outcome: str) -> None:
        self.outcomes[(action, outcome)] += 1

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())

    def by_outcome(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for (_, outcome), n in self.outcomes.items():
            out[outcome] += n
        return dict(out)


@dataclass
class _User:
    email: str
    password: str
    token: str | None = None
    balance_hint: int = 0  # what the user believes the wallet holds; they top up before spending


class TrafficGenerator:
    def __init__(self, settings: TrafficSettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.rng = random.Random(settings.seed)
        self.stats = TrafficStats()
        self.users: list[_User] = []
        self._session: aiohttp.ClientSession | None = None

    def _ssl(self) -> ssl.SSLContext | bool:
        if not self.settings.base_url.startswith("https:"):
            return True
        return ssl.create_default_context(
            cafile=str(self.settings.ca_file) if self.settings.ca_file else None
        )

    async def __aenter__(self) -> TrafficGenerator:
        self._session = aiohttp.ClientSession(
            base_url=self.settings.base_url,
            connector=aiohttp.TCPConnector(ssl=self._ssl(), limit=self.settings.concurrency),
            timeout=aiohttp.ClientTimeout(total=self.settings.request_timeout),
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": "flightdeck-demo-traffic/1"},
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def run(self, stop: asyncio.Event | None = None, max_actions: int | None = None) -> TrafficStats:
        """Act at the configured rate until ``stop`` is set, ``max_actions`` ran, or cancelled."""
        stop = stop or asyncio.Event()
        limit = asyncio.Semaphore(self.settings.concurrency)
        tasks: set[asyncio.Task[None]] = set()
        started = 0
        period = 1.0 / self.settings.rate
        try:
            while not stop.is_set() and (max_actions is None or started < max_actions):
                if limit.locked():
                    self.stats.skipped += 1
                else:
                    await limit.acquire()
                    task = asyncio.create_task(self._guarded(limit))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    started += 1
                await self.clock.sleep(period)
            if tasks:
                await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            for task in list(tasks):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        return self.stats

    async def _guarded(self, limit: asyncio.Semaphore) -> None:
        try:
            await self.step()
        finally:
            limit.release()

    def _choose(self) -> Action:
        if len(self.users) < 3:
            return Action.SIGNUP
        actions = list(_WEIGHTS)
        if len(self.users) >= self.settings.max_users:
            actions.remove(Action.SIGNUP)
        return self.rng.choices(actions, weights=[_WEIGHTS[a] for a in actions])[0]

    async def step(self, action: Action | None = None) -> str:
        """Do one action (chosen at random by weight unless given); its outcome."""
        action = action or self._choose()
        try:
            action, outcome = await self._do(action)
        except TimeoutError:
            outcome = "timeout"
        except aiohttp.ClientError as exc:
            log.debug("traffic %s: %s", action, exc)
            outcome = "unreachable"
        self.stats.count(action, outcome)
        return outcome

    async def _request(
        self, method: str, path: str, body: Any = None, token: str | None = None, key: str | None = None
    ) -> tuple[int, Any]:
        assert self._session is not None, "use `async with TrafficGenerator(...)`"
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if key:
            headers["Idempotency-Key"] = key
        async with self._session.request(method, path, json=body, headers=headers) as resp:
            data = await resp.json(content_type=None) if resp.content_length != 0 else None
            return resp.status, data

    async def _ensure_token(self, user: _User) -> str | None:
        if user.token is None:
            status, data = await self._request(
                "POST", "/api/login", {"email": user.email, "password": user.password}
            )
            if status == 200 and isinstance(data, dict):
                user.token = str(data["token"])
        return user.token

    async def _do(self, action: Action) -> tuple[Action, str]:
        """The action actually done (a spend becomes a top-up when funds are short) and its outcome."""
        if action is Action.SIGNUP:
            user = _User(f"user-{uuid.uuid4().hex[:12]}@demo.test", secrets.token_urlsafe(12))
            status, _ = await self._request(
                "POST", "/api/signup", {"email": user.email, "password": user.password}
            )
            if status == 201:
                self.users.append(user)
            return action, str(status)
        user = self.rng.choice(self.users)
        if action is Action.LOGIN:
            user.token = None
            status, data = await self._request(
                "POST", "/api/login", {"email": user.email, "password": user.password}
            )
            if status == 200 and isinstance(data, dict):
                user.token = str(data["token"])
            return action, str(status)
        token = await self._ensure_token(user)
        if token is None:
            return action, "no_session"
        if action is Action.PAYMENT:
            amount = self.rng.randrange(100, 3_000, 50)
        else:
            amount = self.rng.randrange(500, 5_000, 100)
        if action in (Action.PAYMENT, Action.BOOKING) and user.balance_hint < amount:
            action = Action.TOPUP  # people top up before they spend
        if action is Action.WALLET:
            status, data = await self._request("GET", "/api/wallet", token=token)
            if status == 200 and isinstance(data, dict):
                user.balance_hint = int(data["balance_cents"])
        elif action is Action.TOPUP:
            declined = self.rng.random() < self.settings.declined_card_ratio
            amount = self.rng.randrange(2_000, 20_000, 100)
            body = {"amount_cents": amount, "card_token": "tok_declined" if declined else "tok_visa"}
            status = await self._idempotent("/api/topups", body, token)
            if status == 201 and not declined:
                user.balance_hint += amount
        elif action is Action.PAYMENT:
            body = {"amount_cents": amount, "merchant": self.rng.choice(_MERCHANTS)}
            status = await self._idempotent("/api/payments", body, token)
            user.balance_hint -= amount
        else:
            body = {"item": self.rng.choice(_ITEMS), "amount_cents": amount}
            status, _ = await self._request("POST", "/api/bookings", body, token=token)
            user.balance_hint -= amount
        if status == 402:
            user.balance_hint = 0
        if status == 401:
            user.token = None
        return action, str(status)

    async def _idempotent(self, path: str, body: dict[str, Any], token: str) -> int:
        key = str(uuid.uuid4())
        status, _ = await self._request("POST", path, body, token=token, key=key)
        if status in (200, 201) and self.rng.random() < self.settings.retry_ratio:
            # A client that did not see the answer retries with the same key: no second charge.
            status, _ = await self._request("POST", path, body, token=token, key=key)
        return status


async def _main(settings: TrafficSettings, duration: float | None) -> TrafficStats:
    stop = asyncio.Event()
    async with TrafficGenerator(settings) as gen:
        if duration:
            asyncio.get_running_loop().call_later(duration, stop.set)
        return await gen.run(stop)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m flightdeck.demo.traffic", description=__doc__)
    p.add_argument("--url", required=True, help="base URL of the demo service")
    p.add_argument("--ca", type=Path, help="CA certificate to trust (the demo's ca.pem)")
    p.add_argument("--rate", type=float, default=2.0, help="actions per second (default 2)")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    args = p.parse_args(argv)
    settings = TrafficSettings(base_url=args.url, ca_file=args.ca, rate=args.rate)
    try:
        stats = asyncio.run(_main(settings, args.duration))
    except KeyboardInterrupt:
        return 0
    for (action, outcome), n in sorted(stats.outcomes.items()):
        print(f"{action:8} {outcome:12} {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
