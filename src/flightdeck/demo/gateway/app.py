"""The fake gateway's charge book and HTTP API.

========================  ==========================================================================
``POST /v1/charges``      ``Idempotency-Key`` header (required) and ``{amount_minor, currency,
                          card_token, reference}``. 201 and the charge when it succeeded; 402 and the
                          charge (``status: failed``, ``failure_code: card_declined``) for
                          ``tok_declined``. The same key and body again: the first answer, with
                          ``Idempotent-Replayed: true``, and no second charge. The same key with another
                          body: 409 ``idempotency_key_reused``.
``GET /v1/charges``       ``{"data": [charge, ...]}`` in the order processed; ``?reference=`` filters.
                          One entry per *processed* charge: a payment charged twice shows twice.
``GET /v1/charges/{id}``  One charge.
``GET /health``           ``{"status": "pass"}``.
========================  ==========================================================================

A charge is decided and recorded without awaiting anything in between, so concurrent requests with
one key (a client retrying while its first attempt is still on the wire) charge once. With a
journal file every processed charge is appended to it as one JSON line and read back at start.
"""

from __future__ import annotations

import enum
import hashlib
import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "DECLINED_CARD",
    "Charge",
    "ChargeBook",
    "ChargeStatus",
    "RunningGateway",
    "create_gateway_app",
    "start_gateway",
]

DECLINED_CARD = "tok_declined"


class ChargeStatus(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class Charge:
    id: str
    idempotency_key: str
    reference: str
    amount_minor: int
    currency: str
    status: ChargeStatus
    failure_code: str | None
    created_at: float
    request_digest: str

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["status"] = self.status.value
        del data["request_digest"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Charge:
        return cls(
            id=str(data["id"]),
            idempotency_key=str(data["idempotency_key"]),
            reference=str(data["reference"]),
            amount_minor=int(data["amount_minor"]),
            currency=str(data["currency"]),
            status=ChargeStatus(data["status"]),
            failure_code=data.get("failure_code"),
            created_at=float(data["created_at"]),
            request_digest=str(data.get("request_digest", "")),
        )


class ChargeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    amount_minor: int = Field(gt=0, le=100_000_000)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    card_token: str = Field(pattern=r"^tok_[A-Za-z0-9_]{1,60}$")
    reference: str = Field(min_length=1, max_length=200)

    def digest(self) -> str:
        canonical = json.dumps(self.model_dump(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class ChargeBook:
    """Every processed charge, by id, idempotency key and reference; optionally journaled."""

    journal: Path | None = None
    charges: list[Charge] = field(default_factory=list)
    requests_seen: int = 0  # every request that reached the API, replays and refusals included
    _by_key: dict[str, Charge] = field(default_factory=dict)

    def load(self) -> None:
        if self.journal is None or not self.journal.exists():
            return
        for line in self.journal.read_text(encoding="utf-8").splitlines():
            if line.strip():
                self._remember(Charge.from_json(json.loads(line)))

    def _remember(self, charge: Charge) -> None:
        self.charges.append(charge)
        self._by_key[charge.idempotency_key] = charge

    def by_key(self, key: str) -> Charge | None:
        return self._by_key.get(key)

    def charge(self, key: str, request: ChargeRequest, now: float) -> Charge:
        """Process a new charge (the caller has checked that ``key`` is unused)."""
        declined = request.card_token == DECLINED_CARD
        charge = Charge(
            id="ch_" + secrets.token_hex(8),
            idempotency_key=key,
            reference=request.reference,
            amount_minor=request.amount_minor,
            currency=request.currency,
            status=ChargeStatus.FAILED if declined else ChargeStatus.SUCCEEDED,
            failure_code="card_declined" if declined else None,
            created_at=now,
            request_digest=request.digest(),
        )
        self._remember(charge)
        if self.journal is not None:
            with self.journal.open("a", encoding="utf-8") as out:
                out.write(json.dumps({**charge.to_json(), "request_digest": charge.request_digest}) + "\n")
        return charge

    def find(self, reference: str | None = None) -> list[Charge]:
        return [c for c in self.charges if reference is None or c.reference == reference]


BOOK = web.AppKey("charge_book", ChargeBook)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _answer(charge: Charge, replayed: bool) -> web.Response:
    status = 402 if charge.status is ChargeStatus.FAILED else 200 if replayed else 201
    response = web.json_response(charge.to_json(), status=status)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


async def _create_charge(request: web.Request) -> web.Response:
    book = request.app[BOOK]
    book.requests_seen += 1
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > 255:
        return _error(400, "idempotency_key_required", "send an Idempotency-Key header (1-255 characters)")
    try:
        body = ChargeRequest.model_validate(await request.json())
    except (ValueError, ValidationError) as exc:
        return _error(400, "invalid_request", str(exc).splitlines()[0])
    # From here to the answer nothing is awaited: check-and-charge is atomic within the event loop.
    existing = book.by_key(key)
    if existing is not None:
        if existing.request_digest != body.digest():
            return _error(409, "idempotency_key_reused", "this Idempotency-Key was used for another request")
        return _answer(existing, replayed=True)
    return _answer(book.charge(key, body, time.time()), replayed=False)


async def _list_charges(request: web.Request) -> web.Response:
    book = request.app[BOOK]
    book.requests_seen += 1
    charges = book.find(request.query.get("reference"))
    return web.json_response({"data": [c.to_json() for c in charges], "count": len(charges)})


async def _get_charge(request: web.Request) -> web.Response:
    book = request.app[BOOK]
    book.requests_seen += 1
    for charge in book.charges:
        if charge.id == request.match_info["id"]:
            return web.json_response(charge.to_json())
    return _error(404, "not_found", "no such charge")


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "pass"})


def create_gateway_app(book: ChargeBook) -> web.Application:
    app = web.Application(client_max_size=64 * 1024)
    app[BOOK] = book
    app.router.add_post("/v1/charges", _create_charge)
    app.router.add_get("/v1/charges", _list_charges)
    app.router.add_get("/v1/charges/{id}", _get_charge)
    app.router.add_get("/health", _health)
    return app


@dataclass
class RunningGateway:
    book: ChargeBook
    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_gateway(
    host: str = "127.0.0.1", port: int = 0, journal: Path | None = None
) -> RunningGateway:
    """Listen on ``host:port`` (0: a free port); charges are read from and appended to ``journal``."""
    book = ChargeBook(journal)
    book.load()
    app = create_gateway_app(book)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1]
    return RunningGateway(book, runner, host, int(bound))
