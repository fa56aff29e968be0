"""Silences: matcher parsing and matching (anchored regexes), validation, create/expire/list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flightdeck.alerting.silences import (
    Matcher,
    Silence,
    active_silences,
    create_silence,
    expire_silence,
    get_silence,
    list_silences,
)
from flightdeck.errors import NotFoundError
from flightdeck.store import Store

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("text", "name", "op", "value"),
    [
        ("service=checkout", "service", "=", "checkout"),
        ("service != checkout", "service", "!=", "checkout"),
        ("alertname=~disk.*", "alertname", "=~", "disk.*"),
        ("alertname!~disk.*", "alertname", "!~", "disk.*"),
        ('summary="a = b"', "summary", "=", "a = b"),
        ("env=", "env", "=", ""),
    ],
)
def test_parse(text: str, name: str, op: str, value: str) -> None:
    m = Matcher.parse(text)
    assert (m.name, m.op, m.value) == (name, op, value)


@pytest.mark.parametrize("text", ["", "service", "=checkout", "9x=1", "a~b", "alertname=~(unclosed"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        Matcher.parse(text)


def test_regex_is_fully_anchored() -> None:
    m = Matcher.parse("alertname=~disk.*")
    assert m.matches({"alertname": "disk-full"})
    assert not m.matches({"alertname": "my-disk-full"})
    alt = Matcher.parse("service=~a|b")
    assert alt.matches({"service": "a"})
    assert alt.matches({"service": "b"})
    assert not alt.matches({"service": "ab"})
    assert Matcher.parse("alertname!~disk.*").matches({"alertname": "my-disk"})


def test_missing_label_is_empty_string() -> None:
    assert Matcher.parse("env=").matches({})
    assert Matcher.parse("env!=prod").matches({})
    assert not Matcher.parse("env=prod").matches({})
    assert Matcher.parse("env=~.*").matches({})


def test_silence_active_window_and_matching() -> None:
    s = Silence(
        id=1,
        matchers=[Matcher.parse("service=checkout"), Matcher.parse("severity=~P2|P3")],
        starts_at=NOW,
        ends_at=NOW + HOUR,
        created_by="abebe",
        comment="deploy",
        created_at=NOW,
        expired_at=None,
        expired_by=None,
    )
    assert not s.active(NOW - timedelta(seconds=1))
    assert s.active(NOW)
    assert s.active(NOW + HOUR - timedelta(seconds=1))
    assert not s.active(NOW + HOUR)
    assert s.matches({"service": "checkout", "severity": "P2"})
    assert not s.matches({"service": "checkout", "severity": "P1"})
    assert not s.matches({"service": "wallet", "severity": "P2"})
    assert s.state(NOW - HOUR) == "pending"
    assert s.state(NOW) == "active"
    assert s.state(NOW + HOUR) == "expired"


def test_create_get_list_expire(store: Store) -> None:
    with store.engine.begin() as conn:
        sid = create_silence(
            conn, [Matcher.parse("service=checkout")], NOW, NOW + HOUR, "abebe", "deploy", NOW
        )
        later = create_silence(
            conn, [Matcher.parse("alertname=~disk.*")], NOW + HOUR, NOW + 2 * HOUR, "tendai", "later", NOW
        )
    with store.engine.begin() as conn:
        s = get_silence(conn, sid)
        assert s.matchers == [Matcher(name="service", op="=", value="checkout")]
        assert (s.starts_at, s.ends_at, s.created_by, s.comment) == (NOW, NOW + HOUR, "abebe", "deploy")
        assert [x.id for x in active_silences(conn, NOW)] == [sid]
        assert [x.id for x in list_silences(conn, NOW)] == [later, sid]  # pending ones are listed
        assert [x.id for x in active_silences(conn, NOW + HOUR)] == [later]
        assert expire_silence(conn, sid, "tendai", NOW + timedelta(minutes=5))
        assert not expire_silence(conn, sid, "tendai", NOW + timedelta(minutes=6))  # already expired
    with store.engine.begin() as conn:
        s = get_silence(conn, sid)
        assert s.expired_at == NOW + timedelta(minutes=5)
        assert s.expired_by == "tendai"
        assert not s.active(NOW + timedelta(minutes=10))
        assert active_silences(conn, NOW + timedelta(minutes=10)) == []
        assert [x.id for x in list_silences(conn, NOW + timedelta(minutes=10))] == [later]
        every = list_silences(conn, NOW + timedelta(minutes=10), include_expired=True)
        assert [x.id for x in every] == [later, sid]
        with pytest.raises(NotFoundError):
            get_silence(conn, 9999)
        with pytest.raises(NotFoundError):
            expire_silence(conn, 9999, "x", NOW)


def test_an_ended_silence_cannot_be_expired(store: Store) -> None:
    with store.engine.begin() as conn:
        sid = create_silence(conn, [Matcher.parse("service=a")], None, NOW + HOUR, "abebe", "c", NOW)
        assert get_silence(conn, sid).starts_at == NOW
        assert not expire_silence(conn, sid, "abebe", NOW + 2 * HOUR)
        assert get_silence(conn, sid).expired_at is None


@pytest.mark.parametrize(
    ("matchers", "start", "end", "comment", "why"),
    [
        ([], NOW, NOW + HOUR, "c", "at least one matcher"),
        (["service=a"], NOW, NOW, "c", "end after it starts"),
        (["service=a"], NOW - 2 * HOUR, NOW - HOUR, "c", "in the past"),
        (["service=a"], NOW, NOW + HOUR, "  ", "comment"),
        (["service!=a"], NOW, NOW + HOUR, "c", "empty string"),
        (["service=~.*"], NOW, NOW + HOUR, "c", "empty string"),
    ],
)
def test_create_rejects(
    sqlite_store: Store, matchers: list[str], start: datetime, end: datetime, comment: str, why: str
) -> None:
    with sqlite_store.engine.begin() as conn:
        with pytest.raises(ValueError, match=why):
            create_silence(conn, [Matcher.parse(m) for m in matchers], start, end, "abebe", comment, NOW)
        assert list_silences(conn, NOW, include_expired=True) == []
