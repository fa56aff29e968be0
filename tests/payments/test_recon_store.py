"""Reconciliation records: runs, exceptions across runs, resolutions and their audit trail."""

from __future__ import annotations

from datetime import date

import pytest

from flightdeck.errors import NotFoundError
from flightdeck.payments.errors import ReconError
from flightdeck.payments.recon_store import (
    ExceptionStatus,
    ItemRow,
    RunStatus,
    StoredFile,
    audit_trail,
    count_open,
    fail_run,
    finish_run,
    get_run,
    known_files,
    list_exceptions,
    resolve_exception,
    run_items,
    start_run,
)
from flightdeck.payments.records import Category
from flightdeck.store import Store

DAY = date(2026, 11, 22)


def item(fp: str, category: Category = Category.AMOUNT_MISMATCH, diff: int = 200) -> ItemRow:
    return ItemRow(
        fingerprint=fp,
        category=category,
        reason=f"reason {fp}",
        refs={"internal": [f"pay_{fp}"], "statement": [f"pay_{fp}"]},
        rows={"internal": [["datasource:db", 1]], "statement": [["s.csv", 2]]},
        currency="EUR",
        internal_minor=10_000,
        statement_minor=10_000 + diff,
        difference_minor=diff,
    )


def finish(store: Store, run_id: int, items: list[ItemRow], files: list[StoredFile] | None = None) -> int:
    return finish_run(
        store,
        run_id,
        inputs_digest="d" * 64,
        internal_rows=10,
        statement_rows=10,
        summary={"categories": {}, "exception_items": len(items)},
        items=items,
        files=files or [],
    )


def test_a_run_starts_running_and_finishes_with_its_items(store: Store) -> None:
    run_id = start_run(store, "gw", DAY)
    assert get_run(store, run_id).status is RunStatus.RUNNING
    assert finish(store, run_id, [item("a"), item("b", Category.DUPLICATE)]) == 2
    run = get_run(store, run_id)
    assert run.status is RunStatus.SUCCEEDED
    assert run.finished_at is not None
    assert [i.fingerprint for i in run_items(store, run_id)] == ["a", "b"]
    assert count_open(store, "gw") == 2
    assert [a.action for a in audit_trail(store, recon="gw")] == ["opened", "opened"]


def test_rerunning_the_same_day_creates_no_duplicate_exception(store: Store) -> None:
    first = start_run(store, "gw", DAY)
    finish(store, first, [item("a"), item("b")])
    second = start_run(store, "gw", DAY)
    assert finish(store, second, [item("a"), item("b")]) == 0
    rows = list_exceptions(store, "gw")
    assert len(rows) == 2
    assert {r.first_run_id for r in rows} == {first}
    assert {r.last_run_id for r in rows} == {second}
    assert len(audit_trail(store, recon="gw")) == 2


def test_an_exception_a_later_run_of_the_day_no_longer_finds_is_cleared(store: Store) -> None:
    first = start_run(store, "gw", DAY)
    finish(store, first, [item("a"), item("b")])
    second = start_run(store, "gw", DAY)
    finish(store, second, [item("a")])
    by_fp = {r.fingerprint: r for r in list_exceptions(store, "gw")}
    assert by_fp["a"].status is ExceptionStatus.OPEN
    assert by_fp["b"].status is ExceptionStatus.RESOLVED
    assert by_fp["b"].resolved_by == "flightdeck"
    assert by_fp["b"].note == f"no longer found by run {second}"
    assert [a.action for a in audit_trail(store, by_fp["b"].id)] == ["cleared", "opened"]


def test_another_day_does_not_clear_this_days_exceptions(store: Store) -> None:
    finish(store, start_run(store, "gw", DAY), [item("a")])
    finish(store, start_run(store, "gw", date(2026, 11, 23)), [item("z")])
    assert {r.fingerprint: r.status for r in list_exceptions(store, "gw")} == {
        "a": ExceptionStatus.OPEN,
        "z": ExceptionStatus.OPEN,
    }


def test_resolution_needs_a_note_is_audited_and_is_compare_and_set(store: Store) -> None:
    finish(store, start_run(store, "gw", DAY), [item("a")])
    (exc,) = list_exceptions(store, "gw")
    with pytest.raises(ReconError, match="needs a note"):
        resolve_exception(store, exc.id, "ana", "  ")
    done = resolve_exception(store, exc.id, "ana", "refund issued, ticket FIN-12")
    assert done.status is ExceptionStatus.RESOLVED
    assert done.resolved_by == "ana"
    with pytest.raises(ReconError, match="already resolved"):
        resolve_exception(store, exc.id, "bob", "again")
    reopened = resolve_exception(store, exc.id, "bob", "refund bounced", reopen=True)
    assert reopened.status is ExceptionStatus.OPEN
    assert reopened.resolved_by is None
    trail = audit_trail(store, exc.id)
    assert [(a.action, a.actor, a.note) for a in trail] == [
        ("reopened", "bob", "refund bounced"),
        ("resolved", "ana", "refund issued, ticket FIN-12"),
        ("opened", "flightdeck", "reason a"),
    ]
    with pytest.raises(NotFoundError):
        resolve_exception(store, 999_999, "ana", "x")


def test_a_resolution_carries_over_to_later_runs(store: Store) -> None:
    finish(store, start_run(store, "gw", DAY), [item("a")])
    (exc,) = list_exceptions(store, "gw")
    resolve_exception(store, exc.id, "ana", "known gateway rounding")
    finish(store, start_run(store, "gw", DAY), [item("a")])
    assert list_exceptions(store, "gw")[0].status is ExceptionStatus.RESOLVED
    assert count_open(store, "gw") == 0


def test_a_failed_run_is_visible_with_its_reason_and_cannot_then_finish(store: Store) -> None:
    run_id = start_run(store, "gw", DAY)
    fail_run(store, run_id, "s.csv:7: column 'Amount': not a number")
    run = get_run(store, run_id)
    assert run.status is RunStatus.FAILED
    assert run.error == "s.csv:7: column 'Amount': not a number"
    with pytest.raises(ReconError, match="not running"):
        finish(store, run_id, [item("a")])
    assert list_exceptions(store, "gw") == []


def test_statement_files_are_known_by_checksum_with_their_first_day(store: Store) -> None:
    run_id = start_run(store, "gw", DAY)
    finish(store, run_id, [], [StoredFile("stripe-2026-11-22.csv", "f" * 64, 1234, 40, None)])
    seen = known_files(store, "gw", ["f" * 64, "0" * 64])
    assert list(seen) == ["f" * 64]
    assert seen["f" * 64].day == "2026-11-22"
    assert seen["f" * 64].name == "stripe-2026-11-22.csv"
    assert known_files(store, "other", ["f" * 64]) == {}
