"""Generic webhook: ``POST <url>`` with the message as JSON plus ``idempotency_key``.

When ``secret`` is set the request carries ``X-Flightdeck-Signature: sha256=<hex>``, the HMAC-SHA256
of the exact body bytes with the secret, and ``X-Flightdeck-Timestamp`` (Unix seconds). A receiver
verifies by recomputing the HMAC over the raw body and comparing in constant time; it may reject
old timestamps and repeated idempotency keys.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import time

import aiohttp

from flightdeck.alerting.channels.base import Notifier, Receipt, register
from flightdeck.alerting.model import Message
from flightdeck.config.channels import WebhookChannel

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "WebhookNotifier", "sign_body"]

SIGNATURE_HEADER = "X-Flightdeck-Signature"
TIMESTAMP_HEADER = "X-Flightdeck-Timestamp"


def sign_body(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of body>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@register("webhook")
class WebhookNotifier(Notifier):
    config: WebhookChannel
    _context: ssl.SSLContext | None = None

    def body(self, message: Message, idempotency_key: str) -> bytes:
        payload = {**message.to_payload(), "idempotency_key": idempotency_key}
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()

    async def send(
        self,
        message: Message,
        *,
        address: str | None,
        idempotency_key: str,
        session: aiohttp.ClientSession,
    ) -> Receipt:
        body = self.body(message, idempotency_key)
        headers = dict(self.config.headers)
        if self.config.secret is not None:
            headers[SIGNATURE_HEADER] = sign_body(self.config.secret.reveal(), body)
            headers[TIMESTAMP_HEADER] = str(int(time.time()))
        return await self.post_json(
            session,
            self.config.url.reveal(),
            body,
            idempotency_key=idempotency_key,
            headers=headers,
            ssl_context=self._ssl(),
        )

    def _ssl(self) -> ssl.SSLContext | None:
        """Trust ``ca_file`` (a private CA) in addition to the system's certificates."""
        if self.config.ca_file is None:
            return None
        if self._context is None:
            self._context = ssl.create_default_context()
            self._context.load_verify_locations(cafile=str(self.config.ca_file))
        return self._context
