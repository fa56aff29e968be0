"""Retrieving what the Observatory grades, with flightdeck's HTTP client.

Like the Observatory's retriever (``src/retriever/``): the HTTPS URL and the plain-HTTP URL are
requested at the same time, each following up to 10 redirects hop by hop (so that every hop's
cookies and URL are seen); a certificate that fails verification is retried without it and the
chain is marked unverified; then a CORS preflight with an arbitrary ``Origin`` goes to the final
HTTPS URL. Failures of the plain-HTTP chain and of the preflight mean "nothing there", as in the
Observatory; a failure of the HTTPS request is the check's error.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from pathlib import Path

from yarl import URL

from flightdeck.checks.base import CheckContext
from flightdeck.checks.httpclient import HttpResponse, fetch, ssl_context
from flightdeck.checks.observatory.model import Chain, Exchange, Retrieval
from flightdeck.errors import CheckError

__all__ = ["ACCEPT", "MAX_REDIRECTS", "Retriever"]

ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
MAX_REDIRECTS = 10
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_MAX_BODY = 2_000_000


@dataclass
class Retriever:
    context: CheckContext
    ca_file: Path | None = None
    request_timeout: float = 5.0

    def __post_init__(self) -> None:
        self._verifying: ssl.SSLContext | None = None
        self._insecure: ssl.SSLContext | None = None

    def _ssl(self, verify: bool) -> ssl.SSLContext:
        if verify:
            if self._verifying is None:
                self._verifying = ssl_context(verify=True, ca_file=self.ca_file)
            return self._verifying
        if self._insecure is None:
            self._insecure = ssl_context(verify=False)
        return self._insecure

    async def _fetch(self, url: str, verify: bool, page: bool) -> HttpResponse:
        secure = url.lower().startswith("https:")
        return await fetch(
            self.context,
            url,
            headers={"Accept": ACCEPT},
            ssl_ctx=self._ssl(verify) if secure else None,
            follow_redirects=False,
            max_body=_MAX_BODY if page else 0,
        )

    async def _get(self, url: str, verify: bool, *, page: bool) -> tuple[HttpResponse, bool]:
        """GET one URL without following redirects; returns the response and whether its
        certificate verified (an https URL that fails verification is fetched again without)."""
        if not verify or not url.lower().startswith("https:"):
            return await self._fetch(url, verify, page), verify
        try:
            return await self._fetch(url, True, page), True
        except CheckError as first:
            try:
                response = await self._fetch(url, False, page)
            except CheckError:
                raise first from None
            return response, False

    async def chain(self, start: str, *, keep_body: bool) -> Chain:
        """Follow redirects from ``start`` hop by hop, as the Observatory's session does."""
        exchanges: list[Exchange] = []
        verified = True
        url = start
        while True:
            response, verified = await self._get(url, verified, page=keep_body)
            location = response.header("Location")
            is_redirect = response.status in _REDIRECT_STATUSES and bool(location)
            last = not is_redirect or len(exchanges) >= MAX_REDIRECTS
            exchanges.append(
                Exchange(
                    url=url,
                    status=response.status,
                    headers=tuple(response.headers.items()),
                    body=response.text() if keep_body and last else None,
                )
            )
            if last:
                return Chain(tuple(exchanges), verified)
            try:
                url = str(URL(url).join(URL(location or "")))
            except ValueError:
                return Chain(tuple(exchanges), verified)

    async def _optional_chain(self, start: str) -> Chain | None:
        try:
            async with asyncio.timeout(self.request_timeout):
                return await self.chain(start, keep_body=False)
        except (CheckError, TimeoutError):
            return None

    async def _preflight(self, url: str, origin: str, verify: bool) -> Exchange | None:
        headers = {"Origin": origin, "Access-Control-Request-Method": "GET"}
        try:
            async with asyncio.timeout(self.request_timeout):
                response = await fetch(
                    self.context,
                    url,
                    "OPTIONS",
                    headers=headers,
                    ssl_ctx=self._ssl(verify) if url.lower().startswith("https:") else None,
                    max_body=0,
                )
        except (CheckError, TimeoutError):
            return None
        return Exchange(url=url, status=response.status, headers=tuple(response.headers.items()))

    async def retrieve(self, url: str, http_url: str | None, cors_origin: str) -> Retrieval:
        https_task = asyncio.ensure_future(self.chain(url, keep_body=True))
        http_task = asyncio.ensure_future(self._optional_chain(http_url)) if http_url else None
        try:
            https = await https_task
            http = await http_task if http_task is not None else None
        finally:
            for task in (https_task, http_task):
                if task is not None and not task.done():
                    task.cancel()
        cors = await self._preflight(https.final.url, cors_origin, https.verified)
        return Retrieval(url=url, https=https, http=http, cors=cors, cors_origin=cors_origin)
