"""The API, cockpit and security references stay in step with the app."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from flightdeck.web.middleware import CSP, security_headers
from tests.web.test_auth_routes import app_routes

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_api_route_is_documented(client: TestClient) -> None:
    doc = (DOCS / "api.md").read_text()
    missing = [
        f"{method} {path}"
        for path, methods, _ in app_routes(client.app)
        if path.startswith("/api/") or path in ("/health", "/ready", "/metrics")
        for method in sorted(methods - {"HEAD"})
        if f"### `{method} {path}`" not in doc
    ]
    assert not missing, f"docs/api.md does not document {missing}"


def test_every_cockpit_page_is_documented(client: TestClient) -> None:
    doc = (DOCS / "cockpit.md").read_text()
    pages = {
        path
        for path, methods, _ in app_routes(client.app)
        if "GET" in methods and not path.startswith("/api/") and path not in ("/health", "/ready", "/metrics")
    } - {"/openapi.json", "/docs", "/login"}
    missing = sorted(p for p in pages if f"`{p}`" not in doc)
    assert not missing, f"docs/cockpit.md does not mention {missing}"


def test_security_doc_states_the_headers_sent() -> None:
    doc = (DOCS / "security.md").read_text()
    assert CSP in doc
    for name in security_headers(https=True):
        assert name.lower() in doc.lower(), name
