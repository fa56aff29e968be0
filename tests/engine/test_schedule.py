"""Schedule maths: stable interval slots, cron in a time zone across DST, jitter, catch-up."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from flightdeck.config import CatchUp
from flightdeck.engine.schedule import (
    ClaimAction,
    CronSchedule,
    IntervalSchedule,
    decide_on_claim,
    first_due,
    jittered,
    phase_for,
    plan_after_run,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def slots(schedule: IntervalSchedule | CronSchedule, start: datetime, n: int) -> list[datetime]:
    out, t = [], start
    for _ in range(n):
        t = schedule.next_slot(t)
        out.append(t)
    return out


# -- interval ---------------------------------------------------------------------------------


def test_interval_slots_are_previous_slot_plus_interval_with_a_stable_phase() -> None:
    s = IntervalSchedule.for_subject("payments/health", 60)
    got = slots(s, T0, 5)
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(got)] == [60.0] * 4
    # The phase is the same whatever instant the computation starts from: no drift.
    phase = got[0].timestamp() % 60
    assert phase == pytest.approx(phase_for("payments/health", 60), abs=1e-6)
    for offset in (0.001, 17.5, 59.999):
        assert s.next_slot(got[0] + timedelta(seconds=offset)) == got[1]
    # Strictly after: a run that finished exactly on its slot is not run again on it.
    assert s.next_slot(got[0]) == got[1]


def test_interval_phase_depends_on_the_subject_and_is_reproducible() -> None:
    assert phase_for("a/x", 60) == phase_for("a/x", 60)
    assert phase_for("a/x", 60) != phase_for("a/y", 60)
    assert 0 <= phase_for("a/x", 60) < 60


def test_ten_thousand_checks_are_spread_over_the_interval() -> None:
    per_second = Counter(int(phase_for(f"svc{i // 100}/check-{i}", 60)) for i in range(10_000))
    assert set(per_second) == set(range(60))
    mean = 10_000 / 60
    assert max(per_second.values()) < 1.5 * mean
    assert min(per_second.values()) > 0.5 * mean


def test_sub_second_intervals_keep_exact_microsecond_slots() -> None:
    s = IntervalSchedule(interval=0.25, phase=0.1)
    got = slots(s, T0, 8)
    assert all((b - a) == timedelta(milliseconds=250) for a, b in itertools.pairwise(got))


# -- cron ------------------------------------------------------------------------------------


def test_cron_in_addis_ababa_runs_on_local_wall_clock() -> None:
    s = CronSchedule("0 9 * * 1-5", "Africa/Addis_Ababa")  # UTC+3, no DST
    # Monday 5 January 2026, 09:00 in Addis Ababa is 06:00 UTC.
    assert s.next_slot(utc(2026, 1, 5, 0, 0)) == utc(2026, 1, 5, 6, 0)
    # Friday's run is followed by Monday's.
    assert s.next_slot(utc(2026, 1, 9, 6, 0)) == utc(2026, 1, 12, 6, 0)


def test_cron_daily_across_the_spring_forward_change_in_london() -> None:
    s = CronSchedule("0 9 * * *", "Europe/London")
    got = slots(s, utc(2026, 3, 27, 12, 0), 3)
    # 09:00 GMT = 09:00 UTC on the 28th; clocks go forward on the 29th: 09:00 BST = 08:00 UTC.
    assert got == [utc(2026, 3, 28, 9, 0), utc(2026, 3, 29, 8, 0), utc(2026, 3, 30, 8, 0)]


def test_cron_time_skipped_by_spring_forward_runs_at_the_change() -> None:
    s = CronSchedule("30 1 * * *", "Europe/London")
    got = slots(s, utc(2026, 3, 27, 12, 0), 3)
    # 01:30 does not exist on 29 March 2026 (01:00 GMT → 02:00 BST at 01:00 UTC).
    assert got == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)]


def test_cron_time_repeated_by_fall_back_runs_once() -> None:
    s = CronSchedule("30 1 * * *", "Europe/London")
    got = slots(s, utc(2026, 10, 24, 12, 0), 2)
    # 01:30 happens twice on 25 October 2026 (01:30 BST = 00:30 UTC, then 01:30 GMT): first pass only.
    assert got == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_cron_with_wildcard_hour_follows_real_time_through_both_changes() -> None:
    s = CronSchedule("*/30 * * * *", "Europe/London")
    back = slots(s, utc(2026, 10, 24, 23, 50), 6)
    assert back == [utc(2026, 10, 25, 0, 0) + timedelta(minutes=30 * k) for k in range(6)]
    forward = slots(s, utc(2026, 3, 29, 0, 10), 4)
    # 01:00 and 01:30 GMT do not exist: they fold into the change at 01:00 UTC, no duplicate run.
    assert forward == [
        utc(2026, 3, 29, 0, 30),
        utc(2026, 3, 29, 1, 0),
        utc(2026, 3, 29, 1, 30),
        utc(2026, 3, 29, 2, 0),
    ]


def test_cron_next_slot_is_strictly_after() -> None:
    s = CronSchedule("*/5 * * * *", "UTC")
    assert s.next_slot(utc(2026, 1, 5, 9, 5)) == utc(2026, 1, 5, 9, 10)
    assert s.next_slot(utc(2026, 1, 5, 9, 4, 59)) == utc(2026, 1, 5, 9, 5)


# -- jitter ----------------------------------------------------------------------------------


def test_jitter_stays_within_bounds_and_uses_the_range() -> None:
    s = IntervalSchedule.for_subject("a/b", 60)
    slot = s.next_slot(T0)
    rng = random.Random(7)
    delays = [(jittered(s, slot, 10, rng) - slot).total_seconds() for _ in range(2000)]
    assert all(0 <= d <= 10 for d in delays)
    assert min(delays) < 0.5
    assert max(delays) > 9.5


def test_jitter_is_capped_at_half_the_gap_so_slots_never_overtake() -> None:
    s = IntervalSchedule.for_subject("a/b", 60)
    slot = s.next_slot(T0)
    rng = random.Random(3)
    delays = [(jittered(s, slot, 600, rng) - slot).total_seconds() for _ in range(2000)]
    assert max(delays) <= 30
    # And the run after a jittered run is the next slot, not the one after.
    assert all(s.next_slot(slot + timedelta(seconds=d)) == slot + timedelta(seconds=60) for d in delays)


def test_zero_jitter_is_the_slot_itself() -> None:
    s = IntervalSchedule.for_subject("a/b", 60)
    assert first_due(s, T0, 0, random.Random()) == s.next_slot(T0)


# -- catch-up --------------------------------------------------------------------------------


def test_run_on_time_continues_from_its_slot() -> None:
    s = IntervalSchedule(60, 0)
    due = utc(2026, 1, 5, 9, 1)
    d = decide_on_claim(s, due, due + timedelta(milliseconds=80), CatchUp.RUN_ONCE, 0, random.Random())
    assert d.action is ClaimAction.RUN
    assert d.lateness == pytest.approx(0.08)
    nxt = plan_after_run(s, d.reference, due + timedelta(seconds=2), CatchUp.RUN_ONCE, 0, random.Random())
    assert (nxt.due, nxt.caught_up, nxt.skipped) == (utc(2026, 1, 5, 9, 2), False, 0)


@pytest.mark.parametrize("policy", [CatchUp.RUN_ONCE, CatchUp.SKIP])
def test_after_an_outage_missed_slots_are_never_replayed(policy: CatchUp) -> None:
    s = IntervalSchedule(60, 0)
    due = utc(2026, 1, 5, 9, 1)
    back = utc(2026, 1, 5, 10, 0, 20)  # an hour later: 59 slots were missed
    d = decide_on_claim(s, due, back, policy, 0, random.Random())
    if policy is CatchUp.RUN_ONCE:
        assert d.action is ClaimAction.CATCH_UP
        assert d.reference == back
        # The catch-up run is followed by the next slot after it, not by the missed ones.
        nxt = plan_after_run(s, d.reference, back + timedelta(seconds=1), policy, 0, random.Random())
        assert nxt.due == utc(2026, 1, 5, 10, 1)
    else:
        assert d.action is ClaimAction.SKIP
        assert d.skip_to == utc(2026, 1, 5, 10, 1)


def test_a_late_daily_run_is_missed_not_just_late() -> None:
    s = CronSchedule("0 3 * * *", "UTC")
    due = utc(2026, 1, 5, 3, 0)
    at_five = utc(2026, 1, 5, 5, 0)
    assert decide_on_claim(s, due, at_five, CatchUp.SKIP, 0, random.Random()).skip_to == utc(2026, 1, 6, 3, 0)
    catch = decide_on_claim(s, due, at_five, CatchUp.RUN_ONCE, 0, random.Random())
    assert catch.action is ClaimAction.CATCH_UP
    assert plan_after_run(s, catch.reference, at_five, CatchUp.RUN_ONCE, 0, random.Random()).due == utc(
        2026, 1, 6, 3, 0
    )


def test_run_that_outlasts_its_interval_runs_once_more_or_skips() -> None:
    s = IntervalSchedule(10, 0)
    due = utc(2026, 1, 5, 9, 0, 0)
    finished = utc(2026, 1, 5, 9, 0, 35)  # slots 09:00:10, :20, :30 passed during the run
    once = plan_after_run(s, due, finished, CatchUp.RUN_ONCE, 0, random.Random())
    assert (once.due, once.caught_up) == (finished, True)
    skip = plan_after_run(s, due, finished, CatchUp.SKIP, 0, random.Random())
    assert (skip.due, skip.skipped) == (utc(2026, 1, 5, 9, 0, 40), 3)
