"""The demo's payment-integrity round on a running demo service: the statement it writes plants one
discrepancy of each kind, and the reconciliation of the bundled configuration finds exactly those;
the ledger, wallet and settlement checks of the bundled configuration run green on a healthy service."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

from flightdeck.clock import FakeClock
from flightdeck.demo.statement import write_demo_statement
from flightdeck.evidence import Verdict
from flightdeck.payments.jobs import prepare_job, record_job
from flightdeck.payments.reconcile import run_reconciliation
from flightdeck.store import Store
from tests.demo.conftest import Api
from tests.demo.helpers import demo_config, eventually, scalar


async def _payments(api: Api, db: Path) -> None:
    token = await api.user()
    for i in range(8):
        body = {"amount_cents": 1000 + 137 * i}
        status, data, _ = await api.call("POST", "/api/topups", body, token=token, key=secrets.token_hex(8))
        assert status in (200, 201, 202), data
    declined = {"amount_cents": 7000, "card_token": "tok_declined"}
    status, data, _ = await api.call("POST", "/api/topups", declined, token=token, key=secrets.token_hex(8))
    assert status in (200, 201, 202, 402), data

    async def settled() -> bool:
        return scalar(db, "SELECT COUNT(*) FROM payments WHERE status = 'pending'") == 0

    await eventually(settled, "every top-up settled or failed")


async def test_the_reconciliation_finds_exactly_what_the_statement_planted(
    api: Api, tmp_path: Path, demo_certs: object
) -> None:
    db = api.service.state.settings.db_path
    await _payments(api, db)
    folder = tmp_path / "estate"
    folder.mkdir()
    config = demo_config(api.service, demo_certs.ca_file, folder)  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    store = Store(f"sqlite:///{tmp_path / 'flightdeck.db'}", clock=FakeClock(now))
    store.migrate()
    try:
        seeded = write_demo_statement(db, now.date(), folder / "statements")
        assert set(seeded.seeded) == {
            "amount_mismatch",
            "fee_variance",
            "missing_in_statement",
            "duplicate",
            "status_mismatch",
            "missing_internally",
        }
        outcome = await run_reconciliation(config, store, "gateway", now.date(), write_reports=False)
        found: dict[str, list[str]] = {}
        for item in outcome.exceptions:
            refs = sorted(set(item.refs["internal"] + item.refs["statement"]))
            found.setdefault(item.category.value, []).extend(refs)
        assert {k: sorted(v) for k, v in found.items()} == {k: sorted(v) for k, v in seeded.seeded.items()}

        for kind, field, name in (
            ("ledger", "ledger", "main"),
            ("wallets", "wallets", "main"),
            ("settlements", "settlements", "main"),
        ):
            job = prepare_job(config, store, kind=kind, field=field, name=name, service="payments")
            try:
                evidence = await record_job(config, store, job)
            finally:
                await job.aclose()
            assert evidence is not None
            if kind == "ledger":  # verify's and anchor's figures, once each, as of after anchoring
                names = [m.name for m in evidence.measurements]
                assert len(names) == len(set(names)), names
                assert evidence.measurement("unanchored_rows") == 0
            if kind != "settlements":
                assert evidence.verdict in (Verdict.PASS, Verdict.WARN), (kind, evidence.summary)
                continue
            # The statement's planted status mismatch and stray charge are, for settlements, money the
            # gateway settled that the service never credited: exactly those two, nothing else.
            assert evidence.verdict is Verdict.FAIL
            flagged = {i["reference"] for i in evidence.detail["not_credited"]}  # type: ignore[union-attr, index]
            assert flagged == set(seeded.seeded["status_mismatch"] + seeded.seeded["missing_internally"])
    finally:
        store.dispose()
