"""``flightdeck notify test|outbox|retry`` against the local receiver."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flightdeck.cli.main import app
from tests.alerting.receiver import Receiver

runner = CliRunner()
BOT = "987654:bot-s3cr3t-token"


@pytest.fixture
def config(tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("FLIGHTDECK_DATABASE_URL", raising=False)
    monkeypatch.setenv("TG_TOKEN", BOT)
    path = tmp_path / "flightdeck.yaml"
    path.write_text(
        "store: {state_dir: state}\n"
        "server: {public_url: 'https://fd.example.com'}\n"
        "channels:\n"
        "  tg:\n"
        "    type: telegram\n"
        f"    base_url: {receiver.url}\n"
        "    bot_token: ${TG_TOKEN}\n"
        "    chat_id: '-100200'\n"
        "    timeout: 2\n"
        "  pd:\n"
        "    type: pagerduty\n"
        f"    base_url: {receiver.url}\n"
        "    routing_key: pd-key-s3cr3t\n"
    )
    return path


def notify(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["notify", *args, "-c", str(config)])
    return result.exit_code, result.output


def test_notify_test_sends_and_prints_the_status(config: Path, receiver: Receiver) -> None:
    code, out = notify(config, "test", "tg", "--to", "555", "--json")
    assert code == 0, out
    outcome = json.loads(out)
    assert outcome["sent"] is True
    assert outcome["status"] == 200
    (req,) = receiver.received(f"/bot{BOT}/sendMessage")
    assert req.json()["chat_id"] == "555"
    assert req.key is not None
    assert req.key.startswith("test-tg-")
    code, out = notify(config, "test", "tg")
    assert code == 0, out
    assert "sent via tg" in out
    keys = {r.key for r in receiver.received()}
    assert len(keys) == 2  # a new idempotency key per invocation


def test_notify_test_failure_exits_1_without_secrets(config: Path, receiver: Receiver) -> None:
    receiver.reply(None, 401, body=f'{{"ok":false,"description":"Unauthorized {BOT}"}}')
    code, out = notify(config, "test", "tg")
    assert code == 1
    assert "HTTP 401" in out
    assert BOT not in out
    assert "s3cr3t" not in out
    receiver.reply(None, 500)
    code, out = notify(config, "test", "pd", "--json")
    assert code == 1
    outcome = json.loads(out)
    assert outcome["sent"] is False
    assert outcome["state"] == "dead"  # a test is not retried later
    assert "pd-key-s3cr3t" not in out


def test_notify_test_unknown_channel_is_a_usage_error(config: Path) -> None:
    code, out = notify(config, "test", "nope")
    assert code == 2
    assert "no channel named 'nope'" in out


def test_outbox_lists_and_retry_puts_a_dead_letter_back(config: Path, receiver: Receiver) -> None:
    receiver.reply(None, 400)
    assert notify(config, "test", "tg")[0] == 1
    receiver.reply(None, 200)
    assert notify(config, "test", "pd")[0] == 0

    code, out = notify(config, "outbox", "--json")
    assert code == 0, out
    entries = json.loads(out)
    assert [e["state"] for e in entries] == ["sent", "dead"]
    assert "payload" not in entries[0]
    assert BOT not in out
    assert "s3cr3t" not in out
    dead = entries[1]["id"]
    code, out = notify(config, "outbox", "--state", "dead", "--json")
    assert [e["id"] for e in json.loads(out)] == [dead]
    code, out = notify(config, "outbox")
    assert code == 0
    assert "dead" in out
    assert "tg" in out

    code, out = notify(config, "retry", str(dead), "--json")
    assert code == 0, out
    assert json.loads(out) == {"outbox_id": dead, "retried": True}
    code, out = notify(config, "outbox", "--state", "pending", "--json")
    (pending,) = json.loads(out)
    assert (pending["id"], pending["attempts"]) == (dead, 0)
    code, out = notify(config, "retry", str(dead))
    assert code == 1
    assert "not a dead letter" in out
    assert notify(config, "retry", "9999")[0] == 2
    assert notify(config, "outbox", "--state", "bogus")[0] == 2
