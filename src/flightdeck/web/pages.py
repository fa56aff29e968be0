"""Rendering cockpit pages: the template environment, shared context, the login form."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from flightdeck import __version__
from flightdeck.access import Role
from flightdeck.web import format as fmt
from flightdeck.web.auth import Principal, new_login_csrf
from flightdeck.web.charts import sparkline
from flightdeck.web.context import get_context

__all__ = ["STATIC_DIR", "make_templates", "render", "render_error", "render_login", "safe_next"]

STATIC_DIR = Path(str(resources.files("flightdeck.web") / "static"))


def _asset_versions() -> dict[str, str]:
    """Content hashes of the static files, for cache-busting URLs (``/static/x.css?v=…``)."""
    out = {}
    for path in STATIC_DIR.iterdir():
        if path.is_file():
            out[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    return out


def make_templates() -> Jinja2Templates:
    env = Environment(
        loader=PackageLoader("flightdeck.web", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    versions = _asset_versions()
    env.globals["asset"] = lambda name: f"/static/{name}?v={versions.get(name, __version__)}"
    env.globals["version"] = __version__
    env.globals["sparkline"] = sparkline
    env.globals["Role"] = Role
    env.filters["duration_ms"] = fmt.fmt_duration_ms
    env.filters["ratio"] = fmt.fmt_ratio
    env.filters["when"] = fmt.fmt_time
    env.filters["number"] = fmt.fmt_number
    env.filters["humanize"] = fmt.humanize
    env.globals["fmt_value"] = fmt.fmt_value
    env.globals["ago"] = fmt.ago
    env.globals["latencies"] = fmt.fmt_latencies
    return Jinja2Templates(env=env)


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    who: Principal | None,
    status_code: int = 200,
    refresh: bool = False,
) -> HTMLResponse:
    """A cockpit page. ``refresh`` pages reload their ``<main>`` every ``server.refresh_seconds``."""
    ctx = get_context(request)
    full = {
        "who": who,
        "csrf": who.csrf_token if who is not None else None,
        "now": ctx.now(),
        "refresh": ctx.config.server.refresh_seconds if refresh else None,
        **context,
    }
    response: HTMLResponse = ctx.templates.TemplateResponse(request, template, full, status_code=status_code)
    return response


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site, never another origin."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or "\n" in target:
        return "/"
    return target


def render_login(
    request: Request,
    *,
    status_code: int,
    error: str | None = None,
    next_url: str | None = None,
    username: str = "",
) -> HTMLResponse:
    """The login form, with a fresh double-submit CSRF value in its cookie and hidden field."""
    ctx = get_context(request)
    token = new_login_csrf()
    target = safe_next(
        next_url
        if next_url is not None
        else request.url.path + (f"?{request.url.query}" if request.url.query else "")
    )
    response = render(
        request,
        "login.html",
        {"error": error, "login_csrf": token, "next": target, "username": username},
        who=None,
        status_code=status_code,
    )
    response.set_cookie(
        ctx.login_cookie,
        token,
        max_age=3600,
        path="/",
        httponly=True,
        secure=ctx.secure_cookies,
        samesite="strict",
    )
    return response


def render_error(
    request: Request, status_code: int, title: str, message: str, who: Principal | None = None
) -> HTMLResponse:
    return render(
        request,
        "error.html",
        {"status": status_code, "title": title, "message": message},
        who=who if who is not None else getattr(request.state, "principal", None),
        status_code=status_code,
    )
