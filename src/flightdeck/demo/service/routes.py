"""The service's HTTP endpoints. Bodies are JSON, money is integer cents, errors are
``{"error": {"code": ..., "message": ...}}``."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict
from typing import Any

from aiohttp import web
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from pydantic import BaseModel, ConfigDict, Field

from flightdeck.demo.service.errors import Conflict, InvalidRequest, NotFound, TooManyRequests, Unauthorized
from flightdeck.demo.service.faults import FaultName, FaultParams
from flightdeck.demo.service.gateway_client import RetryMode
from flightdeck.demo.service.health import HEALTH_JSON, HealthStatus, liveness, readiness
from flightdeck.demo.service.ledger import get_wallet, unbalanced_transactions, wallet_mismatches
from flightdeck.demo.service.payments import PaymentKind
from flightdeck.demo.service.state import STATE, ServiceState

__all__ = ["routes"]

routes = web.RouteTableDef()

_EMAIL = r"^[^@\s]{1,64}@[^@\s]{1,189}\.[a-z]{2,24}$"
_AMOUNT = Field(gt=0, le=1_000_000, description="cents")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class SignupBody(_Body):
    email: str = Field(pattern=_EMAIL, max_length=254)
    password: str = Field(min_length=8, max_length=200)


class LoginBody(_Body):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=200)


class TopupBody(_Body):
    amount_cents: int = _AMOUNT
    card_token: str = Field(default="tok_visa", pattern=r"^tok_[a-z0-9_]{1,40}$")


class PaymentBody(_Body):
    amount_cents: int = _AMOUNT
    merchant: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")


class BookingBody(_Body):
    item: str = Field(min_length=1, max_length=100)
    amount_cents: int = _AMOUNT


class GatewayBody(_Body):
    retry: RetryMode = Field(strict=False)


class FaultBody(_Body):
    active: bool = True
    duration_s: float | None = Field(default=None, gt=0, le=86_400)
    latency_ms: float = Field(default=1500.0, ge=0, le=30_000)
    error_ratio: float = Field(default=0.5, ge=0, le=1)
    drift_cents: int = Field(default=1234, ge=-1_000_000, le=1_000_000)


async def _json(request: web.Request) -> Any:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidRequest("the body must be JSON") from None


def _state(request: web.Request) -> ServiceState:
    return request.app[STATE]


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _user(request: web.Request) -> int:
    token = _bearer(request)
    if token is None:
        raise Unauthorized("send Authorization: Bearer <token> (from POST /api/login)")
    state = _state(request)
    return await state.accounts.authenticate(token, state.now())


def _idempotency_key(request: web.Request) -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > 255:
        raise InvalidRequest(
            "send an Idempotency-Key header (1–255 characters)", code="idempotency_key_required"
        )
    return key


# -- probes -------------------------------------------------------------------------------------


_INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>demo payments</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><h1>demo payments service</h1>
<p>A sample service for flightdeck: users, wallets, a double-entry ledger, payments and bookings.</p>
<ul><li><a href="/health">/health</a></li><li><a href="/ready">/ready</a></li>
<li><a href="/metrics">/metrics</a></li></ul></body></html>
"""


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    return web.Response(text=_INDEX, content_type="text/html")


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    return web.json_response(liveness(), content_type=HEALTH_JSON)


@routes.get("/ready")
async def ready(request: web.Request) -> web.Response:
    state = _state(request)
    status, doc = await readiness(state.db, state.settlement_age())
    return web.json_response(
        doc, status=503 if status is HealthStatus.FAIL else 200, content_type=HEALTH_JSON
    )


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(_state(request).metrics.registry)
    response = web.Response(body=body)
    # The classic text format (0.0.4): what every Prometheus-compatible scraper reads.
    response.headers["Content-Type"] = CONTENT_TYPE_PLAIN_0_0_4
    return response


# -- users --------------------------------------------------------------------------------------


@routes.post("/api/signup")
async def signup(request: web.Request) -> web.Response:
    body = SignupBody.model_validate(await _json(request))
    state = _state(request)
    created = await state.accounts.signup(body.email, body.password, state.now())
    state.metrics.signups.inc()
    return web.json_response({"user_id": created.user_id, "wallet_id": created.wallet_id}, status=201)


@routes.post("/api/login")
async def login(request: web.Request) -> web.Response:
    body = LoginBody.model_validate(await _json(request))
    state = _state(request)
    retry_after = state.login_limiter.hit(f"{request.remote}|{body.email.lower()}")
    if retry_after is not None:
        state.metrics.logins.labels("throttled").inc()
        raise TooManyRequests(f"too many login attempts; retry in {retry_after} s", retry_after)
    try:
        session = await state.accounts.login(body.email, body.password, state.now())
    except Unauthorized:
        state.metrics.logins.labels("rejected").inc()
        raise
    state.metrics.logins.labels("accepted").inc()
    response = web.json_response({"token": session.token, "expires_at": session.expires_at})
    response.set_cookie(
        "session",
        session.token,
        max_age=24 * 3600,
        path="/api",
        secure=True,
        httponly=True,
        samesite="Strict",
    )
    return response


# -- money --------------------------------------------------------------------------------------


@routes.get("/api/wallet")
async def wallet(request: web.Request) -> web.Response:
    user_id = await _user(request)
    async with _state(request).db.connection() as conn:
        w = await get_wallet(conn, user_id)
    return web.json_response({"id": w.id, "currency": w.currency, "balance_cents": w.balance_cents})


async def _create_payment(
    request: web.Request, kind: PaymentKind, amount: int, merchant: str | None, card: str | None
) -> web.Response:
    user_id = await _user(request)
    key = _idempotency_key(request)
    state = _state(request)
    payment, replayed = await state.payments.create(
        user_id, kind, amount, key, state.now(), merchant=merchant, card_token=card
    )
    if not replayed and kind is PaymentKind.TOPUP and state.charger is not None:
        state.charger.submit(payment.id)  # charged over HTTP in the background
    response = web.json_response(payment.to_json(), status=200 if replayed else 201)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@routes.post("/api/topups")
async def topup(request: web.Request) -> web.Response:
    body = TopupBody.model_validate(await _json(request))
    return await _create_payment(request, PaymentKind.TOPUP, body.amount_cents, None, body.card_token)


@routes.post("/api/payments")
async def pay(request: web.Request) -> web.Response:
    body = PaymentBody.model_validate(await _json(request))
    return await _create_payment(request, PaymentKind.MERCHANT, body.amount_cents, body.merchant, None)


@routes.get("/api/payments/{id}")
async def payment(request: web.Request) -> web.Response:
    user_id = await _user(request)
    try:
        payment_id = int(request.match_info["id"])
    except ValueError:
        raise NotFound("no such payment") from None
    p = await _state(request).payments.get(user_id, payment_id)
    return web.json_response(p.to_json())


@routes.post("/api/bookings")
async def book(request: web.Request) -> web.Response:
    body = BookingBody.model_validate(await _json(request))
    user_id = await _user(request)
    state = _state(request)
    booking = await state.payments.book(user_id, body.item, body.amount_cents, state.now())
    return web.json_response(booking.to_json(), status=201)


# -- admin --------------------------------------------------------------------------------------


def _admin(request: web.Request) -> ServiceState:
    state = _state(request)
    expected = state.settings.admin_token
    if expected is None:
        raise NotFound("admin endpoints are disabled (no admin token configured)")
    token = _bearer(request) or ""
    if not hmac.compare_digest(token.encode(), expected.reveal().encode()):
        raise Unauthorized("admin token required")
    return state


@routes.post("/hooks/flightdeck")
async def flightdeck_notification(request: web.Request) -> web.Response:
    """flightdeck's webhook channel notifies here (the demo's stand-in for a phone): the body must be
    signed with the admin token (``X-Flightdeck-Signature: sha256=<HMAC-SHA256 of the body>``)."""
    state = request.app[STATE]
    body = await request.read()
    expected = state.settings.admin_token
    given = request.headers.get("X-Flightdeck-Signature", "")
    if expected is None:
        raise Unauthorized("no admin token is configured, so no signature can be checked")
    mac = "sha256=" + hmac.new(expected.reveal().encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.encode(), mac.encode()):
        raise Unauthorized("missing or wrong X-Flightdeck-Signature")
    try:
        notification = json.loads(body)
    except ValueError:
        raise InvalidRequest("the body is not JSON") from None
    state.notifications.append(notification if isinstance(notification, dict) else {"body": notification})
    return web.json_response({"received": True})


@routes.get("/hooks/flightdeck")
async def list_notifications(request: web.Request) -> web.Response:
    state = _admin(request)
    return web.json_response({"notifications": list(state.notifications)})


@routes.get("/admin/faults")
async def list_faults(request: web.Request) -> web.Response:
    state = _admin(request)
    return web.json_response({"faults": [st.to_json() for st in state.faults.states.values()]})


@routes.post("/admin/faults/{name}")
async def switch_fault(request: web.Request) -> web.Response:
    state = _admin(request)
    try:
        name = FaultName(request.match_info["name"])
    except ValueError:
        known = ", ".join(f.value for f in FaultName)
        raise NotFound(f"no fault named {request.match_info['name']!r} (known: {known})") from None
    raw = await _json(request) if request.can_read_body else {}
    body = FaultBody.model_validate(raw)
    if body.active:
        params = FaultParams(body.latency_ms, body.error_ratio, body.drift_cents)
        st = await state.faults.activate(name, state.now(), duration=body.duration_s, params=params)
    else:
        st = await state.faults.deactivate(name, state.now())
    return web.json_response({"fault": st.to_json()})


def _gateway_json(state: ServiceState) -> dict[str, object]:
    charger = state.charger
    if charger is None:
        return {"mode": "simulated", "url": None, "retry": None}
    return {
        "mode": "http",
        "url": state.settings.gateway_url,
        "retry": charger.mode.value,
        "in_flight": charger.in_flight,
        "stats": asdict(charger.stats),
    }


@routes.get("/admin/gateway")
async def gateway_status(request: web.Request) -> web.Response:
    """How top-ups reach the card gateway, and what the charges so far came to."""
    return web.json_response(_gateway_json(_admin(request)))


@routes.post("/admin/gateway")
async def switch_gateway_retry(request: web.Request) -> web.Response:
    """``{"retry": "broken"}`` makes every charge retry send a new idempotency key; ``correct`` undoes it."""
    state = _admin(request)
    body = GatewayBody.model_validate(await _json(request))
    if state.charger is None:
        raise Conflict("the card gateway is simulated (start with --gateway-url)", code="no_gateway")
    state.charger.mode = body.retry
    return web.json_response(_gateway_json(state))


@routes.get("/admin/ledger")
async def ledger_report(request: web.Request) -> web.Response:
    """The ledger's invariants as the service itself sees them."""
    state = _admin(request)
    async with state.db.connection() as conn:
        mismatches = await wallet_mismatches(conn)
        unbalanced = await unbalanced_transactions(conn)
        pending = await conn.scalar("admin.pending", "SELECT COUNT(*) FROM payments WHERE status = 'pending'")
        lost = await conn.scalar("admin.lost", "SELECT COUNT(*) FROM payments WHERE gateway_state = 'lost'")
    return web.json_response(
        {
            "wallet_mismatches": [asdict(m) for m in mismatches],
            "unbalanced_transactions": unbalanced,
            "pending_payments": pending,
            "lost_payments": lost,
        }
    )
