"""Access control through HTTP: every route needs credentials, roles are enforced, CSRF is checked,
sessions expire, secrets never leave, and every response carries the security headers.

Routes are enumerated from the app, so a route added later is covered without editing this file.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Route

from flightdeck.access import Role, create_token, revoke_token
from flightdeck.clock import FakeClock
from flightdeck.config.models import Config
from flightdeck.engine.oneshot import run_checks_now
from flightdeck.evidence import NewEvidence, Trigger, Verdict
from flightdeck.store import Store, insert_evidence, record_outcome
from tests.web.conftest import PASSWORD, SECRET_VALUE, AppClient, log_in, login_csrf, tcp_config

PUBLIC = {("GET", "/health"), ("GET", "/ready"), ("GET", "/login"), ("POST", "/login")}
PUBLIC |= {("GET", "/a/1.ack.1.0"), ("POST", "/a/1.ack.1.0")}  # signed links: the link is the credential
CHECKED_IN_HANDLER = {"/metrics": Role.VIEWER}  # any token, unless server.metrics_public
SAMPLE = {"service": "web", "check": "up", "evidence_id": "1", "token_id": "1", "username": "viewer"}
SAMPLE |= {"run_id": "1", "exception_id": "1", "fmt": "html"}
SAMPLE |= {"incident_id": "1", "silence_id": "1", "schedule": "primary", "token": "1.ack.1.0"}


def app_routes(app: Any) -> Iterator[tuple[str, set[str], BaseRoute]]:
    """(path template, methods, route) of every route, through included routers (static mounts aside)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before routers were kept as included objects
        for route in app.routes:
            if isinstance(route, Route):
                yield route.path, set(route.methods or ()), route
        return
    for context in iter_route_contexts(app.routes):
        if context.path is not None and context.methods:
            yield context.path, set(context.methods), context.original_route


def routes(client: TestClient) -> Iterator[tuple[str, str, BaseRoute]]:
    """(method, concrete path, route) for every route of the app."""
    for template, methods, route in app_routes(client.app):
        path = re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: SAMPLE[m.group(1)], template)
        for method in sorted(methods):
            if method != "HEAD":
                yield method, path, route


def required_role(route: BaseRoute) -> Role | None:
    """The role a route's dependencies demand (``require_<role>``), if any."""
    if not isinstance(route, APIRoute):
        return None
    found: list[Role] = []
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        name = getattr(dep.call, "__name__", "")
        if name.startswith("require_"):
            found.append(Role(name.removeprefix("require_")))
        stack.extend(dep.dependencies)
    return max(found, key=lambda r: r.rank) if found else None


def test_every_route_needs_credentials(client: TestClient) -> None:
    checked = 0
    for method, path, _ in routes(client):
        if (method, path) in PUBLIC:
            continue
        response = client.request(method, path, follow_redirects=False)
        assert response.status_code == 401, (
            f"{method} {path} answered {response.status_code} without credentials"
        )
        if path.startswith("/api/") or path in ("/metrics", "/openapi.json"):
            assert response.json()["error"]["code"] == "unauthenticated"
            assert response.headers["www-authenticate"].startswith("Bearer")
        else:
            assert 'action="/login"' in response.text, f"{method} {path}: the 401 page shows the login form"
        assert "The web tier" not in response.text
        assert "tcp" not in response.text
        checked += 1
    assert checked >= 20  # the enumeration found the API and the cockpit


def test_public_routes_reveal_nothing_sensitive(client: TestClient, store: Store) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    body = ready.text
    assert ready.json()["components"]["store"] == {"status": "ok", "reason": None}
    for secret in (store.url, SECRET_VALUE, "sqlite", "web/up", "version"):
        assert secret not in body


@pytest.mark.parametrize("kind", ["garbage", "unknown", "expired", "revoked", "basic"])
def test_bad_tokens_get_401_everywhere(client: TestClient, store: Store, clock: FakeClock, kind: str) -> None:
    value, token = create_token(store, "t", Role.ADMIN, expires=timedelta(hours=1))
    header = f"Bearer {value}"
    if kind == "garbage":
        header = "Bearer not-a-token"
    elif kind == "unknown":
        header = "Bearer fd_" + "x" * 43
    elif kind == "expired":
        clock.advance(timedelta(hours=1))
    elif kind == "revoked":
        revoke_token(store, str(token.id))
    elif kind == "basic":
        header = "Basic YWRtaW46YWRtaW4="
    for method, path, _ in routes(client):
        if (method, path) in PUBLIC:
            continue
        response = client.request(method, path, headers={"Authorization": header}, follow_redirects=False)
        assert response.status_code == 401, f"{kind} token: {method} {path} → {response.status_code}"


def test_a_bad_token_is_not_rescued_by_a_good_session(client: TestClient, users: dict[Role, str]) -> None:
    log_in(client, "admin")
    assert client.get("/api/v1/me").json()["name"] == "admin"
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer fd_" + "y" * 43})
    assert response.status_code == 401


def test_roles_are_enforced_on_every_route(client: TestClient, store: Store, users: dict[Role, str]) -> None:
    create_token(store, "victim", Role.VIEWER)  # id 1: the one DELETE /api/v1/tokens/1 revokes
    tokens = {role: create_token(store, role.value, role)[0] for role in Role}
    declared = 0
    for method, path, route in routes(client):
        if (method, path) in PUBLIC or path == "/logout":
            continue
        needed = required_role(route) or CHECKED_IN_HANDLER.get(path)
        assert needed is not None, f"{method} {path} declares no role"
        declared += 1
        for role in Role:
            response = client.request(
                method, path, headers={"Authorization": f"Bearer {tokens[role]}"}, follow_redirects=False
            )
            if role.allows(needed):
                assert response.status_code not in (401, 403), (
                    f"{role} on {method} {path}: {response.text[:200]}"
                )
            else:
                assert response.status_code == 403, f"{role} on {method} {path} → {response.status_code}"
    assert declared >= 20


def test_viewer_reads_operator_runs_admin_manages(client: TestClient, store: Store) -> None:
    viewer = {"Authorization": f"Bearer {create_token(store, 'v', Role.VIEWER)[0]}"}
    operator = {"Authorization": f"Bearer {create_token(store, 'o', Role.OPERATOR)[0]}"}
    admin = {"Authorization": f"Bearer {create_token(store, 'a', Role.ADMIN)[0]}"}
    assert client.get("/api/v1/checks", headers=viewer).status_code == 200
    denied = client.post("/api/v1/checks/web/up/run", headers=viewer)
    assert denied.status_code == 403
    assert denied.json()["error"] == {
        "code": "forbidden",
        "message": "this needs the operator role; token:v has the viewer role",
    }
    ran = client.post("/api/v1/checks/web/up/run", headers=operator)
    assert ran.status_code == 200
    assert ran.json()["trigger"] == "api"
    assert ran.json()["verdict"] == "pass"
    assert client.get("/api/v1/tokens", headers=operator).status_code == 403
    assert [t["name"] for t in client.get("/api/v1/tokens", headers=admin).json()] == ["v", "o", "a"]


def test_state_changes_with_a_session_need_the_csrf_token(client: TestClient, users: dict[Role, str]) -> None:
    csrf = log_in(client, "operator")
    assert client.post("/api/v1/checks/web/up/run").status_code == 403
    assert client.post("/api/v1/checks/web/up/run", headers={"X-CSRF-Token": "wrong"}).status_code == 403
    assert (
        client.post("/checks/web/up/run", data={"csrf": "wrong"}, follow_redirects=False).status_code == 403
    )
    cross = client.post(
        "/checks/web/up/run",
        data={"csrf": csrf},
        headers={"Sec-Fetch-Site": "cross-site"},
        follow_redirects=False,
    )
    assert cross.status_code == 403
    ok = client.post("/api/v1/checks/web/up/run", headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200
    form = client.post("/checks/web/up/run", data={"csrf": csrf}, follow_redirects=False)
    assert form.status_code == 303
    assert re.fullmatch(r"/evidence/\d+", form.headers["location"])


def test_api_tokens_need_no_csrf_token(client: TestClient, store: Store) -> None:
    value, _ = create_token(store, "ops", Role.OPERATOR)
    response = client.post("/api/v1/checks/web/up/run", headers={"Authorization": f"Bearer {value}"})
    assert response.status_code == 200


def test_login_form_needs_its_csrf_cookie(make_client: AppClient, users: dict[Role, str]) -> None:
    client = make_client()
    token = login_csrf(client)
    client.cookies.clear()
    response = client.post(
        "/login", data={"username": "viewer", "password": PASSWORD, "csrf": token}, follow_redirects=False
    )
    assert response.status_code == 400
    assert "form expired" in response.text
    assert "set-cookie" not in response.headers or "fd_session" not in response.headers["set-cookie"]


def test_session_cookie_flags_and_expiry(
    make_client: AppClient, users: dict[Role, str], clock: FakeClock, config: Config
) -> None:
    client = make_client()
    response = client.post(
        "/login",
        data={
            "username": "viewer",
            "password": PASSWORD,
            "csrf": login_csrf(client),
            "next": "/checks/web/up",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/checks/web/up"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("fd_session="))
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite", "path", "max-age"} <= flags
    assert "secure" not in flags
    assert "samesite=lax" in cookie.lower()
    assert f"max-age={int(config.server.session_ttl)}" in cookie.lower()
    assert client.get("/").status_code == 200
    clock.advance(config.server.session_ttl - 1)
    assert client.get("/api/v1/me").status_code == 200
    clock.advance(1)
    page = client.get("/")
    assert page.status_code == 401
    assert "session has ended" in page.text
    assert client.get("/api/v1/me").status_code == 401


def test_https_deployments_get_secure_host_cookies_and_hsts(
    make_client: AppClient, users: dict[Role, str], listening_port: int, refused_port: int
) -> None:
    client = make_client(
        tcp_config(listening_port, refused_port, public_url="https://fd.example.com"),
        base_url="https://127.0.0.1",
    )
    assert client.get("/health").headers["strict-transport-security"].startswith("max-age=63072000")
    response = client.post(
        "/login",
        data={"username": "viewer", "password": PASSWORD, "csrf": login_csrf(client)},
        follow_redirects=False,
    )
    cookie = next(c for c in response.headers.get_list("set-cookie") if "fd_session=" in c)
    assert cookie.startswith("__Host-fd_session=")
    assert "secure" in cookie.lower()


def test_logout_ends_the_session(client: TestClient, users: dict[Role, str]) -> None:
    csrf = log_in(client, "viewer")
    assert client.post("/logout", follow_redirects=False).status_code == 403  # no CSRF token
    response = client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert client.get("/").status_code == 401


def test_login_never_redirects_off_site(client: TestClient, users: dict[Role, str]) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        client.cookies.clear()
        response = client.post(
            "/login",
            data={"username": "viewer", "password": PASSWORD, "csrf": login_csrf(client), "next": target},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/"


def test_repeated_failed_logins_are_throttled(client: TestClient, users: dict[Role, str]) -> None:
    for _ in range(5):
        response = client.post(
            "/login", data={"username": "viewer", "password": "not the password", "csrf": login_csrf(client)}
        )
        assert response.status_code == 401
        assert "Wrong user name or password" in response.text
    response = client.post(
        "/login", data={"username": "viewer", "password": PASSWORD, "csrf": login_csrf(client)}
    )
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert "Too many failed logins" in response.text


def test_security_headers_on_every_response(client: TestClient, users: dict[Role, str]) -> None:
    log_in(client, "admin")
    for path in ["/", "/health", "/api/v1/checks", "/nope", "/api/v1/nope", "/static/cockpit.css", "/docs"]:
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "'unsafe-inline'" not in csp.split("style-src")[0]  # never for scripts
        assert "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "default-src 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cross-origin-opener-policy"] == "same-origin"
        assert headers["cross-origin-resource-policy"] == "same-origin"
        assert "strict-transport-security" not in headers  # plain http, no public https URL
    assert client.get("/").headers["cache-control"] == "no-store"
    assert client.get("/static/cockpit.css").headers.get("cache-control") != "no-store"
    assert "unsafe-inline" not in client.get("/").headers["content-security-policy"]


def test_no_secret_in_any_response(
    client: TestClient, store: Store, users: dict[Role, str], config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    """Crawl every GET route as an admin after a run, a login and a token creation: neither the
    configured secret, a password, a token nor the session cookie appears in any body."""
    import asyncio

    caplog.set_level(logging.DEBUG)
    asyncio.run(run_checks_now(config, store))
    # A record written before the secret was configured still holds it: shown masked.
    leaky = NewEvidence(
        subject="web/up",
        service="web",
        check="up",
        kind="tcp",
        trigger=Trigger.MANUAL,
        config_digest="0" * 64,
        started_at=store.clock.now(),
        finished_at=store.clock.now(),
        verdict=Verdict.ERROR,
        duration_ms=1.0,
        summary=f"cannot log in with {SECRET_VALUE}",
        detail={"url": f"postgresql://app:{SECRET_VALUE}@db/app"},
    )
    with store.engine.begin() as conn:
        (eid,) = insert_evidence(conn, [leaky])
        record_outcome(conn, eid, leaky)
    csrf = log_in(client, "admin")
    session = next(v for k, v in client.cookies.items() if "fd_session" in k)
    created = client.post(
        "/api/v1/tokens", json={"name": "ci", "role": "viewer"}, headers={"X-CSRF-Token": csrf}
    )
    token = created.json()["token"]
    assert created.status_code == 201
    assert token.startswith("fd_")
    bodies = []
    for method, path, _ in routes(client):
        if method == "GET":
            path = path.replace("/evidence/1", f"/evidence/{eid}")
            response = client.get(path)
            assert response.status_code < 500, path
            bodies.append((path, response.text))
    bodies.append(("evidence", client.get("/api/v1/evidence").text))
    for path, body in bodies:
        for secret in (SECRET_VALUE, PASSWORD, token, session):
            assert secret not in body, f"{path} shows a secret"
    assert "**********" in client.get(f"/api/v1/evidence/{eid}").text
    assert "**********" in client.get(f"/evidence/{eid}").text
    assert client.get("/api/v1/tokens").json()[0]["prefix"] == token[:11]
    for secret in (SECRET_VALUE, PASSWORD, token, session):
        assert secret not in caplog.text
