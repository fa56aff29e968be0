"""The demo payments service, running in the test's event loop on ephemeral loopback ports."""

from __future__ import annotations

import secrets
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from flightdeck.demo.certs import DemoCertificates, make_certificates
from flightdeck.demo.service import RunningService, ServiceSettings, start_service
from flightdeck.secret import Secret


@pytest.fixture(scope="session")
def demo_certs(tmp_path_factory: pytest.TempPathFactory) -> DemoCertificates:
    return make_certificates(tmp_path_factory.mktemp("demo-certs"))


@dataclass
class Api:
    """A client of the running service that trusts the demo CA."""

    service: RunningService
    session: aiohttp.ClientSession
    admin_token: str

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        key: str | None = None,
        base: str | None = None,
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if key:
            headers["Idempotency-Key"] = key
        url = (base or self.service.url) + path
        async with self.session.request(
            method, url, json=body, headers=headers, allow_redirects=False
        ) as resp:
            text = await resp.text()
            data: Any = None
            if "json" in resp.headers.get("Content-Type", ""):
                data = await resp.json(content_type=None)
            elif text:
                data = text
            return resp.status, data, resp

    async def admin(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        status, data, _ = await self.call(method, path, body, token=self.admin_token)
        return status, data

    async def user(self, email: str | None = None) -> str:
        """Sign up and log in a fresh user; its bearer token."""
        email = email or f"u{secrets.token_hex(5)}@demo.test"
        password = "correct horse battery"
        status, data, _ = await self.call("POST", "/api/signup", {"email": email, "password": password})
        assert status == 201, data
        status, data, _ = await self.call("POST", "/api/login", {"email": email, "password": password})
        assert status == 200, data
        return str(data["token"])


def settings_for(tmp_path: Path, certs: DemoCertificates, **overrides: Any) -> ServiceSettings:
    values: dict[str, Any] = {
        "db_path": tmp_path / "payments.db",
        "cert_file": certs.cert_file,
        "key_file": certs.key_file,
        "admin_token": Secret("admin-" + secrets.token_hex(8)),
        "settle_delay": 0.0,
        "settle_interval": 0.05,
        "seed": 7,
    }
    values.update(overrides)
    return ServiceSettings(**values)


@pytest.fixture
async def api(tmp_path: Path, demo_certs: DemoCertificates) -> AsyncIterator[Api]:
    settings = settings_for(tmp_path, demo_certs)
    service = await start_service(settings)
    ctx = ssl.create_default_context(cafile=str(demo_certs.ca_file))
    assert settings.admin_token is not None
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as session:
        yield Api(service, session, settings.admin_token.reveal())
    await service.stop()
