"""Retention selection: restic's documented ``forget`` examples, calendar edge cases, and properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from flightdeck.backups.retention import NO_RULE, Rule, Snapshot, select
from flightdeck.config.backup_retention import RetentionPolicy, parse_within


def at(text: str) -> datetime:
    return (
        datetime.fromisoformat(text).replace(tzinfo=UTC) if "+" not in text else datetime.fromisoformat(text)
    )


def kept_ids(snapshots: list[Snapshot], policy: RetentionPolicy, **kw: datetime) -> list[str]:
    return [d.snapshot.id for d in select(snapshots, policy, **kw).kept]


# restic documentation, "Removing backup snapshots" → "Removing snapshots according to a policy"
# (doc/060_forget.rst): one backup every Sunday at 11:00 for 12 weeks; `forget --keep-daily 4` keeps the
# last four Sundays and removes the other eight.
RESTIC_SUNDAYS = [
    ("0a1f9759", "2019-09-01 11:00:00"),
    ("46cfe4d5", "2019-09-08 11:00:00"),
    ("f6b1f037", "2019-09-15 11:00:00"),
    ("eb430a5d", "2019-09-22 11:00:00"),
    ("8cf1cb9a", "2019-09-29 11:00:00"),
    ("5d33b116", "2019-10-06 11:00:00"),
    ("b9553125", "2019-10-13 11:00:00"),
    ("e1a7b58b", "2019-10-20 11:00:00"),
    ("8f8018c0", "2019-10-27 11:00:00"),
    ("59403279", "2019-11-03 11:00:00"),
    ("dfee9fb4", "2019-11-10 11:00:00"),
    ("e1ae2f40", "2019-11-17 11:00:00"),
]


def test_restic_doc_example_keep_daily_4() -> None:
    snaps = [Snapshot(i, at(t)) for i, t in RESTIC_SUNDAYS]
    plan = select(snaps, RetentionPolicy(keep_daily=4))
    assert sorted(d.snapshot.id for d in plan.kept) == sorted(
        ["8f8018c0", "59403279", "dfee9fb4", "e1ae2f40"]
    )
    assert [d.why for d in plan.kept] == [
        ("daily 2019-11-17",),
        ("daily 2019-11-10",),
        ("daily 2019-11-03",),
        ("daily 2019-10-27",),
    ]
    assert len(plan.removed) == 8
    assert all(d.why == (NO_RULE,) for d in plan.removed)


def test_restic_doc_example_daily_backups_for_100_years() -> None:
    # Same section: "suppose you make one backup every day for 100 years. Then forget --keep-daily 7
    # --keep-weekly 5 --keep-monthly 12 --keep-yearly 75 would keep the most recent 7 daily snapshots and
    # 4 last-day-of-the-week ones (since the 7 dailies already include 1 weekly). Additionally, 12 or 11
    # last-day-of-the-month snapshots ... And finally 75 or 74 last-day-of-the-year snapshots".
    last = date(2019, 11, 17)  # a Sunday, so the newest weekly is also the newest daily
    first = date(1919, 11, 18)
    days = (last - first).days + 1
    snaps = [
        Snapshot(f"s{n:06d}", datetime.combine(first + timedelta(days=n), datetime.min.time(), UTC))
        for n in range(days)
    ]
    policy = RetentionPolicy(keep_daily=7, keep_weekly=5, keep_monthly=12, keep_yearly=75)
    plan = select(snaps, policy)
    by_rule = {rule: [d for d in plan.kept if any(r.rule is rule for r in d.reasons)] for rule in Rule}
    assert len(by_rule[Rule.DAILY]) == 7
    assert len(by_rule[Rule.WEEKLY]) == 5
    assert len(by_rule[Rule.MONTHLY]) == 12
    assert len(by_rule[Rule.YEARLY]) == 75
    only_weekly = [d for d in by_rule[Rule.WEEKLY] if len(d.reasons) == 1]
    assert len(only_weekly) == 4  # the 7 dailies already include 1 weekly
    # Weekly picks are Sundays (last day of the ISO week), monthly the last day of the month, yearly Dec 31.
    assert all(d.snapshot.time.weekday() == 6 for d in by_rule[Rule.WEEKLY])
    assert all((d.snapshot.time + timedelta(days=1)).day == 1 for d in by_rule[Rule.MONTHLY][1:])
    assert all(d.snapshot.time.strftime("%m-%d") == "12-31" for d in by_rule[Rule.YEARLY][1:])
    # 7 daily + 4 weekly + 11 monthly (Nov 2019 is a daily) + 73 yearly (2019 is a daily, 2018-12-31 a
    # monthly): within restic's "12 or 11" and "75 or 74" less the overlaps it describes.
    assert len(plan.kept) == 7 + 4 + 11 + 73
    assert len(plan.kept) + len(plan.removed) == days


def test_keep_last_with_duplicate_times_is_independent_of_input_order() -> None:
    t = at("2026-11-22 14:00:00")
    snaps = [Snapshot("c", t), Snapshot("a", t), Snapshot("b", t), Snapshot("old", t - timedelta(hours=1))]
    policy = RetentionPolicy(keep_last=2)
    assert kept_ids(snaps, policy) == ["a", "b"]
    assert kept_ids(list(reversed(snaps)), policy) == ["a", "b"]
    assert [d.why for d in select(snaps, policy).kept] == [("last 2",), ("last 2",)]


def test_hourly_reason_and_all_reasons_listed() -> None:
    snaps = [Snapshot("n", at("2026-11-22 14:20:00")), Snapshot("o", at("2026-11-22 14:05:00"))]
    plan = select(snaps, RetentionPolicy(keep_last=1, keep_hourly=2, keep_daily=1))
    assert plan.kept[0].why == ("last 1", "hourly 2026-11-22 14:00", "daily 2026-11-22")
    # the oldest snapshot is kept while the hourly rule still has count left (restic ≥ 0.17)
    assert plan.kept[1].why == ("oldest hourly 2026-11-22 14:00",)


def test_daily_buckets_follow_the_zone_across_daylight_saving() -> None:
    # 2026-10-25 Europe/Berlin falls back from CEST (+2) to CET (+1).
    snaps = [
        Snapshot("oct24-late", at("2026-10-24 21:30:00")),  # Berlin Oct 24 23:30 CEST
        Snapshot("oct25-early", at("2026-10-24 22:30:00")),  # Berlin Oct 25 00:30 CEST
        Snapshot("oct25-late", at("2026-10-25 22:30:00")),  # Berlin Oct 25 23:30 CET
        Snapshot("oct26-early", at("2026-10-25 23:30:00")),  # Berlin Oct 26 00:30 CET
        # an older day, so restic's "keep the oldest too" rule does not blur the comparison
        Snapshot("anchor", at("2026-10-20 12:00:00")),
    ]
    berlin = select(snaps, RetentionPolicy(keep_daily=-1, timezone="Europe/Berlin"))
    assert [d.snapshot.id for d in berlin.kept] == ["oct26-early", "oct25-late", "oct24-late", "anchor"]
    assert [d.why for d in berlin.kept][:3] == [
        ("daily 2026-10-26",),
        ("daily 2026-10-25",),
        ("daily 2026-10-24",),
    ]
    assert [d.snapshot.id for d in berlin.removed] == ["oct25-early"]
    utc = select(snaps, RetentionPolicy(keep_daily=-1))
    assert [d.snapshot.id for d in utc.kept] == ["oct26-early", "oct25-early", "anchor"]


def test_repeated_wall_clock_hour_is_one_hourly_bucket() -> None:
    # 02:30 CEST and 02:30 CET are an hour apart but the same wall-clock hour, as in restic.
    snaps = [
        Snapshot("cest", at("2026-10-25 00:30:00")),
        Snapshot("cet", at("2026-10-25 01:30:00")),
        Snapshot("anchor", at("2026-10-24 10:00:00")),
    ]
    plan = select(snaps, RetentionPolicy(keep_hourly=-1, timezone="Europe/Berlin"))
    assert [(d.snapshot.id, d.why) for d in plan.kept] == [
        ("cet", ("hourly 2026-10-25 02:00",)),
        ("anchor", ("hourly 2026-10-24 12:00",)),
    ]
    assert [d.snapshot.id for d in plan.removed] == ["cest"]


def test_iso_weeks_across_the_new_year() -> None:
    snaps = [
        Snapshot("2025-12-31", at("2025-12-31 12:00:00")),  # ISO 2026-W01
        Snapshot("2026-12-28", at("2026-12-28 12:00:00")),  # Monday of 2026-W53
        Snapshot("2027-01-03", at("2027-01-03 12:00:00")),  # Sunday of 2026-W53
        Snapshot("2027-01-04", at("2027-01-04 12:00:00")),  # 2027-W01
    ]
    plan = select(snaps, RetentionPolicy(keep_weekly=-1))
    assert [(d.snapshot.id, d.why) for d in plan.kept] == [
        ("2027-01-04", ("weekly 2027-W01",)),
        ("2027-01-03", ("weekly 2026-W53",)),
        ("2025-12-31", ("weekly 2026-W01",)),
    ]
    assert [d.snapshot.id for d in plan.removed] == ["2026-12-28"]


def test_newest_verified_is_kept_when_the_rules_would_drop_it() -> None:
    snaps = [
        Snapshot("newest", at("2026-11-22 14:00:00"), verified=False),
        Snapshot("proven", at("2026-11-22 13:00:00"), verified=True),
        Snapshot("older-proven", at("2026-11-22 12:00:00"), verified=True),
    ]
    plan = select(snaps, RetentionPolicy(keep_last=1))
    assert [(d.snapshot.id, d.why) for d in plan.kept] == [
        ("newest", ("last 1",)),
        ("proven", ("newest verified backup",)),
    ]
    assert [d.snapshot.id for d in plan.removed] == ["older-proven"]
    data = plan.to_json()
    assert data["removed"] == [
        {"id": "older-proven", "time": "2026-11-22T12:00:00+00:00", "verified": True, "reasons": [NO_RULE]}
    ]


def test_keep_within_ignores_future_snapshots_when_finding_the_latest() -> None:
    now = at("2026-11-22 12:00:00")
    snaps = [
        Snapshot("future", at("2026-11-30 00:00:00")),
        Snapshot("latest", at("2026-11-22 11:00:00")),
        Snapshot("two-days", at("2026-11-20 12:00:00")),
        Snapshot("five-days", at("2026-11-17 10:00:00")),
    ]
    policy = RetentionPolicy(keep_within="3d")
    assert kept_ids(snaps, policy, now=now) == ["future", "latest", "two-days"]
    assert kept_ids(snaps, policy) == ["future"]  # without now, the newest is the latest


def test_keep_within_months_follow_the_calendar() -> None:
    snaps = [Snapshot("a", at("2026-03-31 00:00:00")), Snapshot("b", at("2026-02-28 12:00:00"))]
    # Go's AddDate: Mar 31 minus one month is "Feb 31", normalised to Mar 3, so Feb 28 is outside.
    assert kept_ids(snaps, RetentionPolicy(keep_within="1m")) == ["a"]


def test_policy_validation() -> None:
    with pytest.raises(ValidationError, match="would prune every backup"):
        RetentionPolicy()
    with pytest.raises(ValidationError, match="IANA"):
        RetentionPolicy(keep_daily=1, timezone="Mars/Olympus")
    with pytest.raises(ValidationError):
        RetentionPolicy(keep_daily=-2)
    with pytest.raises(ValidationError, match="duration"):
        RetentionPolicy(keep_within="1w")
    assert parse_within("2y5m7d3h").months == 5
    assert RetentionPolicy(keep_within="7d2h").keep_within == "7d2h"
    assert RetentionPolicy(keep_daily=7, keep_monthly=-1).describe() == "keep 7 daily, all monthly (UTC)"


def test_no_snapshots_gives_an_empty_plan() -> None:
    plan = select([], RetentionPolicy(keep_last=3))
    assert plan.kept == ()
    assert plan.removed == ()


# -- properties -------------------------------------------------------------------------------------

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
COUNTS = ("keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly")

snapshot_lists = st.lists(
    st.tuples(
        st.datetimes(min_value=datetime(2024, 12, 1), max_value=datetime(2027, 2, 1), timezones=st.just(UTC)),
        st.booleans(),
    ),
    max_size=40,
).map(lambda items: [Snapshot(f"s{n:03d}", t, v) for n, (t, v) in enumerate(items)])


@st.composite
def policies(draw: st.DrawFn) -> RetentionPolicy:
    counts = {name: draw(st.integers(-1, 6)) for name in COUNTS}
    if not any(counts.values()):
        counts["keep_daily"] = 1
    within = draw(st.sampled_from([None, "36h", "10d", "2m"]))
    return RetentionPolicy(**counts, keep_within=within, timezone=draw(st.sampled_from(ZONES)))


@settings(max_examples=200, deadline=None)
@given(snapshot_lists, policies())
def test_every_snapshot_is_decided_once_and_selection_is_idempotent(
    snaps: list[Snapshot], policy: RetentionPolicy
) -> None:
    plan = select(snaps, policy)
    kept = {d.snapshot.id for d in plan.kept}
    removed = {d.snapshot.id for d in plan.removed}
    assert kept | removed == {s.id for s in snaps}
    assert not kept & removed
    assert len(plan.decisions) == len(snaps)
    if snaps:
        assert max(snaps, key=lambda s: (s.time, [-ord(c) for c in s.id])).id in kept
    verified = [s for s in snaps if s.verified]
    if verified:
        newest = max(verified, key=lambda s: s.time)
        assert any(s.id in kept for s in verified if s.time == newest.time)
    again = select([d.snapshot for d in plan.kept], policy)
    assert {d.snapshot.id for d in again.kept} == kept


@settings(max_examples=200, deadline=None)
@given(snapshot_lists, policies(), st.sampled_from(COUNTS), st.integers(1, 5), st.booleans())
def test_a_more_generous_policy_never_keeps_fewer(
    snaps: list[Snapshot], policy: RetentionPolicy, field: str, more: int, unlimited: bool
) -> None:
    current = getattr(policy, field)
    bigger = -1 if unlimited or current == -1 else current + more
    generous = policy.model_copy(update={field: bigger})
    assert set(kept_ids(snaps, policy)) <= set(kept_ids(snaps, generous))


def test_zone_is_applied_not_the_snapshot_offset() -> None:
    # The same instant given with different offsets lands in the same bucket.
    a = Snapshot("a", datetime(2026, 6, 1, 23, 30, tzinfo=ZoneInfo("America/New_York")))
    b = Snapshot("b", a.time.astimezone(UTC) - timedelta(minutes=1))
    plan = select([a, b], RetentionPolicy(keep_daily=1, timezone="Europe/Berlin"))
    assert [d.why for d in plan.kept] == [("daily 2026-06-02",)]


def test_dry_run_table_shows_every_backup_with_its_reasons() -> None:
    from rich.console import Console

    from flightdeck.cli.retention_view import render_plan

    snaps = [Snapshot(i, at(t)) for i, t in RESTIC_SUNDAYS]
    console = Console(width=200, record=True)
    console.print(render_plan(select(snaps, RetentionPolicy(keep_daily=4))))
    text = console.export_text()
    assert all(i in text for i, _ in RESTIC_SUNDAYS)
    assert text.count("prune") == 8
    assert "daily 2019-11-17" in text
    assert text.count("no rule keeps it") == 8
