"""Configuration of notification channels (``channels.NAME``): where notifications go and how.

Example::

    channels:
      whatsapp:
        type: whatsapp
        phone_number_id: "1234567890"
        access_token_file: /etc/flightdeck/whatsapp.token
        template: incident_alert            # an approved template for business-initiated messages
      ops-chat:
        type: slack
        webhook_url_file: /etc/flightdeck/slack.url
      email:
        type: email
        host: smtp.example.com
        port: 587
        security: starttls
        username: alerts@example.com
        password_file: /etc/flightdeck/smtp.password
        sender: alerts@example.com
      pagerduty:
        type: pagerduty
        routing_key_file: /etc/flightdeck/pd.key

Every HTTP channel has a ``base_url`` (the provider's by default) so tests and proxies can point it
elsewhere. Credentials are secrets: give them inline from the environment (``${VAR}``) or as ``*_file``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from flightdeck.config.base import ConfigModel
from flightdeck.config.types import Duration, ReadableFile
from flightdeck.secret import Secret

__all__ = [
    "CHANNEL_TYPES",
    "ChannelBase",
    "ChannelConfig",
    "EmailChannel",
    "PagerDutyChannel",
    "SlackChannel",
    "TelegramChannel",
    "WebhookChannel",
    "WhatsAppChannel",
    "check_email",
]


_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$|^[^@\s<>]+@localhost$")
_NAMED_EMAIL = re.compile(r"^(?P<name>[^<>]*)<(?P<addr>[^<>]+)>$")


def _http_url(value: str, what: str) -> str:
    """``value`` with no trailing slash, if it is an absolute http(s) URL; the error never echoes it
    (a webhook URL is a secret)."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{what} must be an absolute http:// or https:// URL")
    return value.strip().rstrip("/")


def check_email(value: str, what: str = "address") -> str:
    """An email address (``a@b.c``), optionally with a display name: ``Alerts <a@b.c>``."""
    text = value.strip()
    named = _NAMED_EMAIL.match(text)
    addr = named["addr"].strip() if named else text
    if not _EMAIL.match(addr):
        raise ValueError(f"{what} {value!r} is not an email address (name@example.com)")
    return text


class ChannelBase(ConfigModel):
    """What every channel has: delivery limits."""

    timeout: Duration = Field(10, description="One delivery attempt gives up after this long")
    rate_limit: int | None = Field(
        None, ge=1, description="At most this many messages per minute (default: the provider's own)"
    )
    max_attempts: int = Field(12, ge=1, description="Attempts before a notification is a dead letter")
    give_up_after: Duration = Field(24 * 3600, description="A notification older than this is a dead letter")
    backoff_base: Duration = Field(2, description="First retry after about this long (doubling, with jitter)")
    backoff_max: Duration = Field(600, description="Retries are never further apart than this")


class WhatsAppChannel(ChannelBase):
    """WhatsApp Cloud API: a template message (business-initiated) to each user's phone number."""

    type: Literal["whatsapp"]
    base_url: str = "https://graph.facebook.com/v21.0"
    phone_number_id: str = Field(min_length=1)
    access_token: Secret
    template: str = Field(min_length=1, description="Approved message template name")
    language: str = Field("en", description="Template language code")

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return _http_url(value, "base_url")

    @field_validator("phone_number_id")
    @classmethod
    def _phone_number_id(cls, value: str) -> str:
        if not value.strip().isdigit():
            raise ValueError("phone_number_id is the numeric id of the sending number in WhatsApp Manager")
        return value.strip()


class TelegramChannel(ChannelBase):
    """Telegram Bot API ``sendMessage`` to a chat (a user's ``to`` or ``chat_id``)."""

    type: Literal["telegram"]
    base_url: str = "https://api.telegram.org"
    bot_token: Secret
    chat_id: str | None = Field(None, description="Chat for channel-level notifications")

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return _http_url(value, "base_url")


class SlackChannel(ChannelBase):
    """Slack incoming webhook (the URL is the secret)."""

    type: Literal["slack"]
    webhook_url: Secret

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: Secret) -> Secret:
        return Secret(_http_url(value.reveal(), "webhook_url"))


class EmailChannel(ChannelBase):
    """Email over SMTP."""

    type: Literal["email"]
    host: str = Field(min_length=1)
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: Secret | None = None
    sender: str = Field(min_length=3, description="From: address")
    to: list[str] = Field(default_factory=list, description="Recipients for channel-level notifications")

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        return check_email(value, "sender")

    @field_validator("to")
    @classmethod
    def _to(cls, value: list[str]) -> list[str]:
        return [check_email(v, "recipient") for v in value]

    @model_validator(mode="after")
    def _auth(self) -> EmailChannel:
        if self.password is not None and not self.username:
            raise ValueError("password is set but username is not")
        return self


class WebhookChannel(ChannelBase):
    """A JSON POST, signed with HMAC-SHA256 when ``secret`` is set."""

    type: Literal["webhook"]
    url: Secret
    secret: Secret | None = Field(None, description="HMAC-SHA256 key for the signature header")
    ca_file: ReadableFile | None = Field(None, description="PEM file of a private CA to trust for https")
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _url(cls, value: Secret) -> Secret:
        return Secret(_http_url(value.reveal(), "url"))

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        reserved = {"content-type", "content-length", "host", "idempotency-key"}
        for name in value:
            if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", name):
                raise ValueError(f"header name {name!r} is not a valid HTTP header name")
            if name.lower() in reserved or name.lower().startswith("x-flightdeck-"):
                raise ValueError(f"header {name!r} is set by flightdeck and cannot be overridden")
        return value


class PagerDutyChannel(ChannelBase):
    """PagerDuty Events API v2: trigger, acknowledge and resolve with a stable dedup_key."""

    type: Literal["pagerduty"]
    base_url: str = "https://events.pagerduty.com"
    routing_key: Secret

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return _http_url(value, "base_url")


ChannelConfig = Annotated[
    WhatsAppChannel | TelegramChannel | SlackChannel | EmailChannel | WebhookChannel | PagerDutyChannel,
    Field(discriminator="type"),
]

CHANNEL_TYPES = frozenset({"whatsapp", "telegram", "slack", "email", "webhook", "pagerduty"})
