"""The web app: the HTTP API (``/api/v1``), the cockpit, ``/health``, ``/ready``, ``/metrics``.

:func:`create_app` builds it over a store (and, in ``flightdeck serve``, the running scheduler and
its metrics registry). Errors become answers in one place here: JSON for the API and flightdeck's
own endpoints, HTML pages for the cockpit — a 401 there is the login form.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from flightdeck import __version__
from flightdeck.access import LoginThrottle, LoginThrottledError
from flightdeck.access.errors import AccessPolicyError, AlreadyExistsError
from flightdeck.checks.base import CheckContext
from flightdeck.config.models import Config
from flightdeck.engine.oneshot import check_rows
from flightdeck.engine.runner import prepare_checks
from flightdeck.engine.scheduler import Scheduler
from flightdeck.errors import AuthenticationError, NotFoundError, PermissionDeniedError, StoreError
from flightdeck.store import Store, sync_checks
from flightdeck.web import (
    account,
    alerting,
    alerting_api,
    api,
    backups,
    backups_api,
    cockpit,
    intake,
    links,
    ops,
    payments,
    payments_api,
)
from flightdeck.web.context import WebContext
from flightdeck.web.middleware import HttpMetrics, MetricsMiddleware, SecurityHeadersMiddleware
from flightdeck.web.pages import STATIC_DIR, make_templates, render_error, render_login

__all__ = ["create_app", "secrets_to_mask", "wants_json"]

log = logging.getLogger(__name__)

SWAGGER_DIR = Path(fastapi_offline.__file__).parent / "static"
_JSON_PATHS = frozenset({"/metrics", "/openapi.json", "/health", "/ready"})


def wants_json(request: Request) -> bool:
    """API and operational endpoints answer JSON; cockpit pages answer HTML."""
    path = request.url.path
    return path.startswith("/api/") or path in _JSON_PATHS


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def secrets_to_mask(config: Config) -> frozenset[str]:
    """Every secret of the configuration, and the password inside each secret URL on its own."""
    found = set(config.secret_values())
    for value in list(found):
        if "://" in value:
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password:
                found.add(unquote(password))
                found.add(password)
    return frozenset(found)


def _describe(problem: Any) -> str:
    where = ".".join(str(p) for p in problem.get("loc", ()) if p not in ("query", "body", "path", "form"))
    return f"{where}: {problem.get('msg')}" if where else str(problem.get("msg"))


def _sync_configured_checks(config: Config, store: Store) -> None:
    """Without a scheduler in this process, put the configured checks in the store so that the
    cockpit lists every one (those that never ran as ``unknown``)."""
    context = CheckContext(config=config, clock=store.clock, store=store)
    rows = check_rows(prepare_checks(config, context, include_disabled=True))
    with store.engine.begin() as conn:
        sync_checks(conn, rows, store.clock.now())


def create_app(
    config: Config,
    store: Store,
    scheduler: Scheduler | None = None,
    registry: CollectorRegistry | None = None,
    *,
    throttle: LoginThrottle | None = None,
) -> FastAPI:
    """The API and cockpit over ``store`` (migrated). Time comes from ``store.clock``."""
    server = config.server
    secure = (
        server.secure_cookies
        if server.secure_cookies is not None
        else bool(server.public_url and server.public_url.lower().startswith("https://"))
    )
    http_metrics = HttpMetrics()
    context = WebContext(
        config=config,
        store=store,
        scheduler=scheduler,
        registry=registry,
        http_metrics=http_metrics,
        throttle=throttle or LoginThrottle(store.clock),
        templates=make_templates(),
        secure_cookies=secure,
        secrets=secrets_to_mask(config),
        kinds=sorted({spec.kind for _, spec in config.iter_checks()}),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if scheduler is None:
            try:
                _sync_configured_checks(config, store)
            except (StoreError, SQLAlchemyError) as exc:  # /ready tells why; the app still answers
                log.warning("could not list the configured checks in the store: %s", type(exc).__name__)
        yield

    app = FastAPI(
        title="flightdeck",
        version=__version__,
        description=(
            "Evidence that a web service is ready for production. Authenticate with "
            "`Authorization: Bearer fd_…` (`flightdeck token create`) or a cockpit session."
        ),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        swagger_ui_oauth2_redirect_url=None,
        lifespan=lifespan,
    )
    app.state.flightdeck = context
    app.add_middleware(SecurityHeadersMiddleware, https=secure)
    app.add_middleware(MetricsMiddleware, metrics=http_metrics)
    app.mount("/static/swagger", StaticFiles(directory=SWAGGER_DIR), name="swagger")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(ops.router)
    app.include_router(api.router)
    app.include_router(account.router)
    app.include_router(cockpit.router)
    app.include_router(payments_api.router)
    app.include_router(payments.router)
    app.include_router(backups_api.router)
    app.include_router(backups.router)
    app.include_router(intake.router)
    app.include_router(alerting_api.router)
    app.include_router(alerting.router)
    app.include_router(links.router)
    _install_error_handlers(app)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AuthenticationError)
    async def unauthenticated(request: Request, exc: AuthenticationError) -> Response:
        if wants_json(request):
            return _error(401, "unauthenticated", str(exc), {"www-authenticate": 'Bearer realm="flightdeck"'})
        message = str(exc)
        note = "Your session has ended; please log in again." if "session" in message else None
        return render_login(request, status_code=401, error=note)

    @app.exception_handler(LoginThrottledError)
    async def throttled(request: Request, exc: LoginThrottledError) -> Response:
        return _error(429, "throttled", str(exc), {"retry-after": str(exc.retry_after)})

    def json_or_page(exc_type: type[Exception], status: int, code: str, title: str) -> None:
        """API clients get the JSON error; a browser gets the cockpit's error page."""

        async def handler(request: Request, exc: Exception) -> Response:
            if wants_json(request):
                return _error(status, code, str(exc))
            return render_error(request, status, title, str(exc))

        app.add_exception_handler(exc_type, handler)

    json_or_page(PermissionDeniedError, 403, "forbidden", "Not allowed")
    json_or_page(NotFoundError, 404, "not_found", "Not found")
    json_or_page(AccessPolicyError, 400, "invalid", "Not accepted")

    @app.exception_handler(AlreadyExistsError)
    async def conflict(request: Request, exc: AlreadyExistsError) -> Response:
        return _error(409, "conflict", str(exc))

    @app.exception_handler(RequestValidationError)
    async def validation(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(_describe(e) for e in exc.errors())
        if wants_json(request):
            return _error(422, "invalid", problems or "invalid request")
        return render_error(request, 400, "Bad request", problems or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = str(exc.detail)
        if wants_json(request) or exc.status_code == 405:
            return _error(exc.status_code, "not_found" if exc.status_code == 404 else "http_error", message)
        return render_error(
            request, exc.status_code, "Not found" if exc.status_code == 404 else "Error", message
        )
