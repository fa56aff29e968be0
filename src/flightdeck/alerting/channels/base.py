"""What every notifier is: the :class:`Notifier` base, its registry, and the shared HTTP transport.

A notifier turns one :class:`~flightdeck.alerting.model.Message` into one request to its provider and
classifies the answer:

- 2xx → a :class:`Receipt` (status and a short, secret-free detail);
- 429, 5xx, a timeout or a connection error → :class:`RetryableDeliveryError` (with ``retry_after``
  when the provider said ``Retry-After``);
- any other 4xx, a redirect, or a notification that cannot be sent at all (no address) →
  :class:`PermanentDeliveryError`.

Each kind is one module that registers its class in :data:`NOTIFIERS` with :func:`register`.
Messages never include a request URL (Telegram's holds the bot token, Slack's and webhooks' are the
secret) and every detail is scrubbed of the channel's secrets before it leaves the notifier.
"""

from __future__ import annotations

import json
import ssl
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, TypeVar

import aiohttp

from flightdeck.alerting.errors import PermanentDeliveryError, RetryableDeliveryError
from flightdeck.alerting.model import Message
from flightdeck.config.channels import ChannelBase
from flightdeck.secret import MASK, Secret

__all__ = [
    "IDEMPOTENCY_HEADER",
    "NOTIFIERS",
    "Notifier",
    "Receipt",
    "notifier_for",
    "parse_retry_after",
    "register",
]

IDEMPOTENCY_HEADER = "Idempotency-Key"
USER_AGENT = "flightdeck-notifier"
_EXCERPT = 200


@dataclass(frozen=True)
class Receipt:
    """A delivered notification: the provider's status (HTTP, or SMTP's 250) and a short detail."""

    status: int | None
    detail: str


class Notifier(ABC):
    """One channel's transport. ``name`` is the channel's key under ``channels:``."""

    kind: ClassVar[str]

    def __init__(self, name: str, config: ChannelBase) -> None:
        self.name = name
        self.config = config

    @abstractmethod
    async def send(
        self,
        message: Message,
        *,
        address: str | None,
        idempotency_key: str,
        session: aiohttp.ClientSession,
    ) -> Receipt:
        """Deliver ``message`` (to ``address`` when the channel needs one) once."""

    def secrets(self) -> list[str]:
        """The channel's secret values, scrubbed from every detail and error."""
        found: list[str] = []
        for field in type(self.config).model_fields:
            value = getattr(self.config, field)
            if isinstance(value, Secret) and value.reveal():
                found.append(value.reveal())
        return found

    def scrub(self, text: str) -> str:
        for secret in sorted(self.secrets(), key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text

    async def post_json(
        self,
        session: aiohttp.ClientSession,
        url: str,
        body: Mapping[str, Any] | bytes,
        *,
        idempotency_key: str,
        headers: Mapping[str, str] | None = None,
        ok: Iterable[int] = (),
        ssl_context: ssl.SSLContext | None = None,
    ) -> Receipt:
        """POST ``body`` (JSON) to ``url`` and classify the answer. ``url`` is never repeated in any
        message. ``ok`` lists non-2xx statuses that also mean delivered."""
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        sent_headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            IDEMPOTENCY_HEADER: idempotency_key,
            **(headers or {}),
        }
        timeout = aiohttp.ClientTimeout(total=self.config.timeout)
        try:
            async with session.post(
                url,
                data=data,
                headers=sent_headers,
                timeout=timeout,
                allow_redirects=False,
                ssl=ssl_context if ssl_context is not None else True,
            ) as response:
                text = await response.text(errors="replace")
                return self.classify(response.status, response.headers, text, ok=ok)
        except TimeoutError:
            raise RetryableDeliveryError(f"{self.name}: no answer within {self.config.timeout:g}s") from None
        except aiohttp.ClientError as exc:
            raise RetryableDeliveryError(f"{self.name}: connection failed ({type(exc).__name__})") from None

    def classify(
        self, status: int, headers: Mapping[str, str], text: str, *, ok: Iterable[int] = ()
    ) -> Receipt:
        excerpt = self.scrub(" ".join(text.split())[:_EXCERPT])
        said = f": {excerpt}" if excerpt else ""
        if 200 <= status < 300 or status in set(ok):
            return Receipt(status, f"{self.name}: HTTP {status}")
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(headers.get("Retry-After"), _server_now(headers))
            raise RetryableDeliveryError(f"{self.name}: HTTP {status}{said}", status, retry_after)
        raise PermanentDeliveryError(f"{self.name}: HTTP {status}{said}", status)


def _server_now(headers: Mapping[str, str]) -> datetime:
    """The answer's own ``Date`` (an HTTP-date ``Retry-After`` is relative to it), else now."""
    date = headers.get("Date")
    if date:
        try:
            when = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            pass
        else:
            return when if when.tzinfo else when.replace(tzinfo=UTC)
    return datetime.now(UTC)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date (relative to
    ``now``). None when absent or unreadable; never negative."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


NOTIFIERS: dict[str, type[Notifier]] = {}
"""Channel ``type`` → notifier class; each module in this package registers its own."""

N = TypeVar("N", bound=type[Notifier])


def register(kind: str) -> Callable[[N], N]:
    """Class decorator: ``@register("slack")``."""

    def wrap(cls: N) -> N:
        cls.kind = kind
        NOTIFIERS[kind] = cls
        return cls

    return wrap


def notifier_for(name: str, config: ChannelBase) -> Notifier:
    """The notifier for channel ``name`` configured by ``config`` (its ``type`` picks the class)."""
    import flightdeck.alerting.channels  # noqa: F401  (registers every kind)

    kind = str(getattr(config, "type", ""))
    cls = NOTIFIERS.get(kind)
    if cls is None:
        raise PermanentDeliveryError(f"{name}: no notifier for channel type {kind!r}")
    return cls(name, config)
