"""Each channel against the local receiver (HTTP) or aiosmtpd (email): request shape, headers,
signatures, and that no secret leaks into an error or receipt."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import aiohttp
import pytest
from pydantic import TypeAdapter

from flightdeck.alerting.channels import notifier_for, parse_retry_after
from flightdeck.alerting.channels.base import Notifier
from flightdeck.alerting.errors import PermanentDeliveryError, RetryableDeliveryError
from flightdeck.alerting.model import Action, AlertLine, Message
from flightdeck.config.channels import ChannelConfig
from tests.alerting.conftest import SMTP_PASSWORD, SMTP_USER, Mailbox
from tests.alerting.receiver import Receiver

ADAPTER: TypeAdapter[ChannelConfig] = TypeAdapter(ChannelConfig)
TOKEN = "123456:AAbot-token-s3cr3t"


def channel(name: str, **fields: object) -> Notifier:
    return notifier_for(name, ADAPTER.validate_python(fields))  # type: ignore[arg-type]


def message(action: Action = Action.TRIGGER, **extra: object) -> Message:
    fields: dict[str, object] = {
        "action": action,
        "title": "Payments API down",
        "summary": "3 checks failing <since 09:00>",
        "severity": "P1",
        "service": "payments",
        "incident_id": 42,
        "dedup_key": "flightdeck-incident-42",
        "alerts": [
            AlertLine(
                rule="app_down",
                severity="P1",
                state="firing",
                summary="api is down",
                service="payments",
                runbook="https://runbooks.example.com/app-down",
            )
        ],
        "links": {
            "view": "https://fd.example.com/incidents/42",
            "ack": "https://fd.example.com/a/42.ack.1.sig",
            "resolve": "https://fd.example.com/a/42.resolve.1.sig",
        },
    }
    fields.update(extra)
    return Message.model_validate(fields)


async def send(n: Notifier, m: Message, address: str | None = None, key: str = "k-1") -> object:
    async with aiohttp.ClientSession() as session:
        return await n.send(m, address=address, idempotency_key=key, session=session)


async def test_whatsapp_template_message(receiver: Receiver) -> None:
    n = channel(
        "wa",
        type="whatsapp",
        base_url=receiver.url,
        phone_number_id="1234567890",
        access_token="wa-token-s3cr3t",
        template="incident_alert",
        language="en_US",
    )
    receipt = await send(n, message(), address="+251 911 000 001", key="wa-1")
    assert receipt.status == 200  # type: ignore[attr-defined]
    (req,) = receiver.received("/1234567890/messages")
    assert req.headers["Authorization"] == "Bearer wa-token-s3cr3t"
    assert req.key == "wa-1"
    body = req.json()
    assert body["messaging_product"] == "whatsapp"
    assert body["to"] == "251911000001"
    assert body["type"] == "template"
    assert body["template"]["name"] == "incident_alert"
    assert body["template"]["language"] == {"code": "en_US"}
    params = body["template"]["components"][0]["parameters"]
    assert [p["text"] for p in params] == ["P1", "Payments API down", "https://fd.example.com/a/42.ack.1.sig"]
    assert "s3cr3t" not in str(receipt)


async def test_whatsapp_without_a_phone_number_is_permanent(receiver: Receiver) -> None:
    n = channel(
        "wa", type="whatsapp", base_url=receiver.url, phone_number_id="1", access_token="t", template="x"
    )
    with pytest.raises(PermanentDeliveryError, match="no phone number"):
        await send(n, message(), address=None)
    assert receiver.received() == []


async def test_telegram_message_and_token_never_in_errors(receiver: Receiver) -> None:
    n = channel("tg", type="telegram", base_url=receiver.url, bot_token=TOKEN, chat_id="-1001")
    await send(n, message(), key="tg-1")
    (req,) = receiver.received(f"/bot{TOKEN}/sendMessage")
    body = req.json()
    assert body["chat_id"] == "-1001"
    assert body["parse_mode"] == "HTML"
    assert body["disable_web_page_preview"] is True
    assert body["text"].startswith("<b>[P1] Payments API down</b>")
    assert "&lt;since 09:00&gt;" in body["text"]
    assert '<a href="https://fd.example.com/a/42.ack.1.sig">Acknowledge</a>' in body["text"]
    assert req.key == "tg-1"

    for status, error in [(401, PermanentDeliveryError), (500, RetryableDeliveryError)]:
        receiver.reply(None, status, body=f'{{"ok":false,"description":"bad token {TOKEN}"}}')
        with pytest.raises(error) as caught:
            await send(n, message(), address="555")
        assert TOKEN not in str(caught.value)
        assert "bot-token" not in repr(caught.value.args)
    receiver.reply(None, hang=True)
    n.config = n.config.model_copy(update={"timeout": 0.3})
    with pytest.raises(RetryableDeliveryError) as caught:
        await send(n, message())
    assert TOKEN not in str(caught.value)
    unreachable = channel("tg", type="telegram", base_url="http://127.0.0.1:9", bot_token=TOKEN, chat_id="1")
    with pytest.raises(RetryableDeliveryError) as caught:
        await send(unreachable, message())
    assert TOKEN not in str(caught.value)


async def test_telegram_needs_a_chat(receiver: Receiver) -> None:
    n = channel("tg", type="telegram", base_url=receiver.url, bot_token=TOKEN)
    with pytest.raises(PermanentDeliveryError, match="no chat"):
        await send(n, message())


async def test_slack_blocks_and_url_never_echoed(receiver: Receiver) -> None:
    hook = f"{receiver.url}/services/T000/B000/slack-s3cr3t"
    n = channel("chat", type="slack", webhook_url=hook)
    await send(n, message(), key="sl-1")
    (req,) = receiver.received("/services/T000/B000/slack-s3cr3t")
    body = req.json()
    assert body["text"].startswith("[P1] Payments API down")
    kinds = [b["type"] for b in body["blocks"]]
    assert kinds == ["header", "section", "context", "actions"]
    assert body["blocks"][0]["text"]["text"] == "[P1] Payments API down"
    buttons = {b["text"]["text"]: b["url"] for b in body["blocks"][3]["elements"]}
    assert buttons["Acknowledge"] == "https://fd.example.com/a/42.ack.1.sig"
    assert buttons["Resolve"] == "https://fd.example.com/a/42.resolve.1.sig"
    assert req.key == "sl-1"
    receiver.reply(None, 404, body="no_service " + hook)
    with pytest.raises(PermanentDeliveryError) as caught:
        await send(n, message())
    assert "slack-s3cr3t" not in str(caught.value)
    assert caught.value.status == 404


async def test_webhook_signature_verifies(receiver: Receiver) -> None:
    n = channel(
        "hook",
        type="webhook",
        url=f"{receiver.url}/hook",
        secret="hmac-s3cr3t",
        headers={"X-Team": "payments"},
    )
    await send(n, message(), key="wh-1")
    (req,) = receiver.received("/hook")
    expected = "sha256=" + hmac.new(b"hmac-s3cr3t", req.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(req.headers["X-Flightdeck-Signature"], expected)
    assert req.headers["X-Flightdeck-Timestamp"].isdigit()
    assert req.headers["X-Team"] == "payments"
    body = req.json()
    assert body["idempotency_key"] == "wh-1"
    assert body["dedup_key"] == "flightdeck-incident-42"
    assert body["alerts"][0]["rule"] == "app_down"
    assert "hmac-s3cr3t" not in req.body.decode()


async def test_webhook_without_secret_is_unsigned(receiver: Receiver) -> None:
    n = channel("hook", type="webhook", url=f"{receiver.url}/plain")
    await send(n, message())
    (req,) = receiver.received("/plain")
    assert "X-Flightdeck-Signature" not in req.headers


async def test_pagerduty_dedup_key_is_stable_across_trigger_ack_resolve(receiver: Receiver) -> None:
    receiver.reply("/v2/enqueue", 202, body='{"status":"success"}')
    n = channel("pd", type="pagerduty", base_url=receiver.url, routing_key="pd-routing-s3cr3t")
    for action in (Action.TRIGGER, Action.ACKNOWLEDGE, Action.RESOLVE):
        receipt = await send(n, message(action), key=f"pd-{action}")
        assert receipt.status == 202  # type: ignore[attr-defined]
    events = [r.json() for r in receiver.received("/v2/enqueue")]
    assert [e["event_action"] for e in events] == ["trigger", "acknowledge", "resolve"]
    assert {e["dedup_key"] for e in events} == {"flightdeck-incident-42"}
    assert {e["routing_key"] for e in events} == {"pd-routing-s3cr3t"}
    payload = events[0]["payload"]
    assert payload["severity"] == "critical"
    assert payload["source"] == "flightdeck"
    assert payload["summary"] == "[P1] Payments API down"
    assert {link["text"] for link in events[0]["links"]} == {"View incident", "Acknowledge", "Resolve"}
    update = await send(n, message(Action.UPDATE, severity="P3"), key="pd-u")
    assert update.status == 202  # type: ignore[attr-defined]
    last = receiver.received("/v2/enqueue")[-1].json()
    assert (last["event_action"], last["payload"]["severity"]) == ("trigger", "warning")
    receiver.reply("/v2/enqueue", 400, body='{"status":"invalid event","routing_key":"pd-routing-s3cr3t"}')
    with pytest.raises(PermanentDeliveryError) as caught:
        await send(n, message())
    assert "pd-routing-s3cr3t" not in str(caught.value)


async def test_429_retry_after_seconds_and_http_date(receiver: Receiver) -> None:
    n = channel("hook", type="webhook", url=f"{receiver.url}/rl")
    receiver.reply("/rl", 429, headers={"Retry-After": "30"})
    with pytest.raises(RetryableDeliveryError) as caught:
        await send(n, message())
    assert (caught.value.status, caught.value.retry_after) == (429, 30.0)
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert parse_retry_after("Mon, 05 Jan 2026 09:02:00 GMT", now) == 120.0
    assert parse_retry_after("Mon, 05 Jan 2026 08:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


async def test_email_received_with_subject_and_alternatives(smtp_server: Mailbox) -> None:
    n = channel(
        "mail",
        type="email",
        host=smtp_server.host,
        port=smtp_server.port,
        security="none",
        sender="Flightdeck <alerts@example.com>",
    )
    receipt = await send(n, message(), address="abebe@example.com", key="em-1")
    assert receipt.status == 250  # type: ignore[attr-defined]
    (mail,) = smtp_server.messages
    assert mail["Subject"] == "[P1] Payments API down"
    assert mail["To"] == "abebe@example.com"
    assert mail["Message-ID"].startswith("<")
    assert mail["Message-ID"].endswith("@example.com>")
    kinds = [part.get_content_type() for part in mail.walk()]
    assert "text/plain" in kinds
    assert "text/html" in kinds
    html = next(p for p in mail.walk() if p.get_content_type() == "text/html").get_payload(decode=True)
    assert b"&lt;since 09:00&gt;" in html
    again = await send(n, message(), address="abebe@example.com", key="em-1")
    assert again.status == 250  # type: ignore[attr-defined]
    assert smtp_server.messages[1]["Message-ID"] == mail["Message-ID"]


async def test_email_to_the_channel_list_and_refusals(smtp_server: Mailbox) -> None:
    n = channel(
        "mail",
        type="email",
        host=smtp_server.host,
        port=smtp_server.port,
        security="none",
        sender="alerts@example.com",
        to=["ops@example.com", "sre@example.com"],
    )
    await send(n, message(Action.RESOLVE))
    assert smtp_server.envelopes[0][1] == ["ops@example.com", "sre@example.com"]
    assert smtp_server.messages[0]["Subject"] == "[P1] Resolved: Payments API down"
    smtp_server.refuse = 554
    with pytest.raises(PermanentDeliveryError):
        await send(n, message())
    smtp_server.refuse = 451
    with pytest.raises(RetryableDeliveryError):
        await send(n, message())
    closed = channel(
        "mail",
        type="email",
        host="127.0.0.1",
        port=9,
        security="none",
        sender="alerts@example.com",
        to=["ops@example.com"],
    )
    with pytest.raises(RetryableDeliveryError):
        await send(closed, message())


async def test_email_login_and_password_never_in_errors(smtp_auth_server: Mailbox) -> None:
    base = {
        "type": "email",
        "host": smtp_auth_server.host,
        "port": smtp_auth_server.port,
        "security": "none",
        "sender": SMTP_USER,
        "to": ["ops@example.com"],
        "username": SMTP_USER,
    }
    ok = channel("mail", **base, password=SMTP_PASSWORD)
    await send(ok, message())
    assert smtp_auth_server.logins == [SMTP_USER]
    assert len(smtp_auth_server.messages) == 1
    wrong = channel("mail", **base, password="wrong-s3cr3t-pw")
    with pytest.raises(PermanentDeliveryError) as caught:
        await send(wrong, message())
    assert "wrong-s3cr3t-pw" not in str(caught.value)
