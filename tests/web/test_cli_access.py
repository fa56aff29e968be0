"""``flightdeck user`` and ``flightdeck token``: the commands, run in-process over a store in a
temporary folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flightdeck.access import authenticate_password, authenticate_token
from flightdeck.cli.main import app
from flightdeck.errors import AuthenticationError
from flightdeck.store import Store


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "flightdeck.yaml").write_text("services: {}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLIGHTDECK_DATABASE_URL", raising=False)
    monkeypatch.delenv("FLIGHTDECK_CONFIG", raising=False)
    return tmp_path


def store_of(home: Path) -> Store:
    return Store(f"sqlite:///{home / '.flightdeck' / 'flightdeck.db'}")


def cli(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), input=stdin)
    return result.exit_code, result.output


def test_user_lifecycle(home: Path) -> None:
    code, out = cli(
        "user", "add", "alice", "--role", "admin", "--password-stdin", stdin="a very long password\n"
    )
    assert code == 0, out
    assert "Added alice (admin)" in out
    assert "a very long password" not in out
    store = store_of(home)
    assert authenticate_password(store, "alice", "a very long password").role.value == "admin"

    code, out = cli("user", "add", "bob", "--generate", "--json")
    assert code == 0, out
    bob = json.loads(out)
    assert bob["role"] == "viewer"
    assert authenticate_password(store, "bob", bob["password"]).username == "bob"

    code, out = cli("user", "list", "--json")
    assert [(u["username"], u["role"], u["active"]) for u in json.loads(out)] == [
        ("alice", "admin", True),
        ("bob", "viewer", True),
    ]
    assert "password" not in out

    code, out = cli("user", "passwd", "bob", "--password-stdin", stdin="another long password\n")
    assert code == 0, out
    with pytest.raises(AuthenticationError):
        authenticate_password(store, "bob", bob["password"])
    code, _ = cli("user", "disable", "bob")
    assert code == 0
    with pytest.raises(AuthenticationError):
        authenticate_password(store, "bob", "another long password")
    code, _ = cli("user", "enable", "bob", "--json")
    assert code == 0
    assert authenticate_password(store, "bob", "another long password").active
    store.dispose()


def test_user_errors_exit_2(home: Path) -> None:
    cli("user", "add", "alice", "--generate")
    code, out = cli("user", "add", "alice", "--generate")
    assert code == 2
    assert "already exists" in out
    code, out = cli("user", "add", "carol", "--password-stdin", stdin="short\n")
    assert code == 2
    assert "at least 10" in out
    code, out = cli("user", "add", "dave", stdin="")  # no terminal to prompt on
    assert code == 2
    assert "--password-stdin or --generate" in out
    code, out = cli("user", "disable", "nobody")
    assert code == 2
    assert "no user" in out


def test_token_lifecycle(home: Path) -> None:
    code, out = cli("token", "create", "ci", "--role", "operator", "--expires", "90d", "--json")
    assert code == 0, out
    created = json.loads(out)
    token = created["token"]
    assert token.startswith("fd_")
    assert created["state"] == "active"
    assert created["expires_at"] is not None
    store = store_of(home)
    assert authenticate_token(store, token).role.value == "operator"

    code, out = cli("token", "create", "grafana")
    assert code == 0
    assert "not shown again" in out
    assert "does not expire" in out
    code, out = cli("token", "list", "--json")
    listed = json.loads(out)
    assert [(t["name"], t["state"]) for t in listed] == [("ci", "active"), ("grafana", "active")]
    assert token not in out
    assert listed[0]["last_used_at"] is not None  # it was used above

    code, out = cli("token", "revoke", "ci", "--json")
    assert code == 0
    assert json.loads(out)["state"] == "revoked"
    with pytest.raises(AuthenticationError):
        authenticate_token(store, token)
    code, out = cli("token", "list", "--active", "--json")
    assert [t["name"] for t in json.loads(out)] == ["grafana"]
    code, out = cli("token", "create", "x", "--expires", "someday")
    assert code == 2
    code, out = cli("token", "revoke", "nope")
    assert code == 2
    store.dispose()
