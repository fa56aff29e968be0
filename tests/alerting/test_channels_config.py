"""Channel misconfiguration is reported by the loader with the file line, and never echoes a secret."""

from __future__ import annotations

import pytest

from flightdeck.alerting.channels import NOTIFIERS
from flightdeck.config import load_config_text
from flightdeck.config.channels import CHANNEL_TYPES
from flightdeck.errors import ConfigError


def errors(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, file="fd.yaml")
    return str(caught.value)


def test_every_channel_type_has_a_notifier() -> None:
    assert set(NOTIFIERS) == set(CHANNEL_TYPES)


def test_base_url_must_be_http() -> None:
    out = errors(
        "channels:\n  pd:\n    type: pagerduty\n    base_url: ftp://events.example.com\n    routing_key: k\n"
    )
    assert "fd.yaml:4" in out
    assert "base_url must be an absolute http:// or https:// URL" in out


def test_webhook_url_errors_do_not_echo_the_url() -> None:
    out = errors(
        "channels:\n  chat:\n    type: slack\n    webhook_url: hooks.slack.com/services/T0/B0/s3cr3t\n"
    )
    assert "webhook_url must be an absolute" in out
    assert "s3cr3t" not in out


def test_email_sender_and_recipients_are_addresses() -> None:
    out = errors(
        "channels:\n  mail:\n    type: email\n    host: smtp.example.com\n    sender: alerts\n"
        "    to: [ops@example.com, nobody]\n"
    )
    assert "sender 'alerts' is not an email address" in out
    assert "recipient 'nobody' is not an email address" in out


def test_email_password_needs_a_username() -> None:
    out = errors(
        "channels:\n  mail:\n    type: email\n    host: smtp.example.com\n    sender: a@example.com\n"
        "    password: pw-s3cr3t\n"
    )
    assert "password is set but username is not" in out
    assert "pw-s3cr3t" not in out


def test_webhook_reserved_headers_and_whatsapp_number_id() -> None:
    out = errors(
        "channels:\n  hook:\n    type: webhook\n    url: https://example.com/h\n"
        "    headers: {X-Flightdeck-Signature: forged}\n"
        "  wa:\n    type: whatsapp\n    phone_number_id: '+251 91'\n    access_token: t\n    template: x\n"
    )
    assert "cannot be overridden" in out
    assert "phone_number_id is the numeric id" in out


def test_a_valid_channel_set_loads() -> None:
    config = load_config_text(
        "channels:\n"
        "  mail: {type: email, host: smtp.example.com, sender: 'Alerts <alerts@example.com>', to: [a@b.io]}\n"
        "  pd: {type: pagerduty, base_url: 'https://events.eu.pagerduty.com/', routing_key: k}\n"
    )
    assert config.channels["pd"].base_url == "https://events.eu.pagerduty.com"  # type: ignore[union-attr]
