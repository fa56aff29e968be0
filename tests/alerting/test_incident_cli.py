"""``flightdeck alerts``, ``incidents`` and ``silence``: run in-process over a store in a temporary
folder, with human and ``--json`` output, actors and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flightdeck.alerting.incidents import get_incident
from flightdeck.alerting.model import EventKind, IncidentStatus
from flightdeck.alerting.timeline import timeline
from flightdeck.cli import common
from flightdeck.cli.main import app
from flightdeck.store import Store
from tests.alerting.incident_seed import seed_incident


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "flightdeck.yaml").write_text("services: {}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLIGHTDECK_DATABASE_URL", raising=False)
    monkeypatch.delenv("FLIGHTDECK_CONFIG", raising=False)
    monkeypatch.setenv("USER", "tendai")
    monkeypatch.setattr(common.console, "width", 200)  # tables unwrapped, whatever the terminal
    return tmp_path


@pytest.fixture
def store(home: Path) -> Store:
    s = Store(f"sqlite:///{home / '.flightdeck' / 'flightdeck.db'}")
    s.migrate()
    return s


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_alerts_and_incidents_lists(store: Store) -> None:
    incident = seed_incident(store)
    code, out = cli("alerts", "list", "--json")
    assert code == 0, out
    (alert,) = json.loads(out)
    assert (alert["rule"], alert["severity"], alert["state"], alert["incident_id"]) == (
        "app-down",
        "P1",
        "firing",
        incident,
    )
    code, out = cli("alerts", "list")
    assert code == 0
    assert "app-down" in out
    assert "No resolved alerts." in cli("alerts", "list", "--state", "resolved")[1]
    code, out = cli("incidents", "list", "--json")
    assert [i["id"] for i in json.loads(out)] == [incident]
    assert "checkout is down" in cli("incidents", "list")[1]
    assert json.loads(cli("incidents", "list", "--service", "db", "--json")[1]) == []
    assert cli("incidents", "list", "--status", "bogus")[0] == 2


def test_show_ack_comment_resolve(store: Store) -> None:
    incident = seed_incident(store)
    code, out = cli("incidents", "show", str(incident), "--json")
    assert code == 0, out
    body = json.loads(out)
    assert body["title"] == "checkout is down"
    assert body["dead_letters"] == 1
    assert [n["state"] for n in body["notifications"]] == ["sent", "dead"]
    assert "SIGNED-LINK-TOKEN" not in out
    human = cli("incidents", "show", str(incident))[1]
    assert "DEAD LETTER" in human
    assert "Timeline" in human

    code, out = cli("incidents", "ack", str(incident))
    assert code == 0, out
    assert f"Incident #{incident} acknowledged by tendai." in out  # $USER by default
    code, out = cli("incidents", "ack", str(incident), "--as", "abebe", "--json")
    assert json.loads(out)["changed"] is False
    code, out = cli("incidents", "comment", str(incident), "rolled back", "--as", "abebe")
    assert code == 0, out
    code, out = cli("incidents", "resolve", str(incident), "--as", "abebe", "--json")
    assert json.loads(out)["incident"]["status"] == "resolved"
    with store.engine.connect() as conn:
        row = get_incident(conn, incident)
        events = timeline(conn, incident)
    assert (row.status, row.acknowledged_by, row.resolved_by) == (IncidentStatus.RESOLVED, "tendai", "abebe")
    acks = [e for e in events if e.kind is EventKind.ACKNOWLEDGED]
    assert [(e.actor, e.detail) for e in acks] == [("tendai", {"via": "cli"})]
    assert [(e.actor, e.message) for e in events if e.kind is EventKind.COMMENT] == [("abebe", "rolled back")]


def test_unknown_ids_exit_2(store: Store) -> None:
    for args in (
        ("incidents", "show", "99"),
        ("incidents", "ack", "99"),
        ("incidents", "resolve", "99"),
        ("incidents", "comment", "99", "hello"),
        ("silence", "expire", "99"),
    ):
        code, out = cli(*args)
        assert code == 2, (args, out)
        assert "no incident 99" in out or "no silence 99" in out


def test_silences(store: Store) -> None:
    code, out = cli(
        "silence",
        "add",
        "service=checkout",
        "alertname=~disk.*",
        "--duration",
        "90m",
        "-m",
        "deploy",
        "--json",
    )
    assert code == 0, out
    silence = json.loads(out)
    assert silence["matchers"] == ["service=checkout", "alertname=~disk.*"]
    assert (silence["state"], silence["created_by"], silence["comment"]) == ("active", "tendai", "deploy")
    code, out = cli("silence", "list", "--json")
    assert [s["id"] for s in json.loads(out)] == [silence["id"]]
    assert "service=checkout" in cli("silence", "list")[1]
    code, out = cli("silence", "expire", str(silence["id"]), "--json")
    assert json.loads(out)["changed"] is True
    assert json.loads(cli("silence", "list", "--json")[1]) == []
    assert len(json.loads(cli("silence", "list", "--all", "--json")[1])) == 1
    assert cli("silence", "add", "nonsense", "-m", "x")[0] == 2
    assert cli("silence", "add", "a=b", "-m", "x", "--duration", "soon")[0] == 2
    assert cli("silence", "add", "a=~.*", "-m", "x")[0] == 2


def test_stats(store: Store) -> None:
    incident = seed_incident(store)
    cli("incidents", "ack", str(incident))
    cli("incidents", "resolve", str(incident))
    code, out = cli("incidents", "stats", "--json")
    assert code == 0, out
    (row,) = json.loads(out)
    assert (row["service"], row["count"], row["acknowledged"], row["resolved"]) == ("checkout", 1, 1, 1)
    assert row["mtta_seconds"] is not None
    assert row["mtta_seconds"] >= 0
    assert "checkout" in cli("incidents", "stats")[1]
    assert json.loads(cli("incidents", "stats", "--service", "db", "--json")[1]) == []
