"""The demo's backup round on a running demo service: the bundled configuration backs up the payments
database, and its DR drill restores that backup into a scratch file and passes every verification
(ledger balanced, wallets equal their ledger sums, rows identical); freshness and recency then pass."""

from __future__ import annotations

import secrets
from pathlib import Path

from flightdeck.backups.drill_result import DRILL_DETAIL_KEY, DrillResult, StepStatus, VerificationKind
from flightdeck.demo.backup_jobs import run_backup_round
from flightdeck.evidence import Verdict
from flightdeck.payments.jobs import prepare_job, record_job
from flightdeck.store import Store
from tests.demo.conftest import Api
from tests.demo.helpers import demo_config, eventually, scalar


async def test_the_demo_backs_up_and_drills_its_database(
    api: Api, tmp_path: Path, demo_certs: object
) -> None:
    db = api.service.state.settings.db_path
    token = await api.user()
    for i in range(5):
        body = {"amount_cents": 2000 + i}
        status, data, _ = await api.call("POST", "/api/topups", body, token=token, key=secrets.token_hex(8))
        assert status in (200, 201, 202), data

    async def settled() -> bool:
        return scalar(db, "SELECT COUNT(*) FROM payments WHERE status = 'pending'") == 0

    await eventually(settled, "every top-up settled")
    folder = tmp_path / "estate"
    folder.mkdir()
    config = demo_config(api.service, demo_certs.ca_file, folder)  # type: ignore[attr-defined]
    store = Store(f"sqlite:///{tmp_path / 'flightdeck.db'}")
    store.migrate()
    try:
        out = await run_backup_round(config, store)
        assert out.backup is not None
        assert out.backup.verdict is Verdict.PASS, out.backup
        assert out.backup.subject == "payments/backup"
        assert out.drill is not None
        assert out.drill.verdict is Verdict.PASS, out.drill.summary
        result = DrillResult.model_validate(out.drill.detail[DRILL_DETAIL_KEY])
        assert result.backup_id == out.backup.detail["backup_id"]
        names = {v.name for v in result.verifications if v.kind is VerificationKind.INVARIANT}
        assert names == {
            "every ledger transaction balances (debits = credits)",
            "every wallet balance equals the sum of its ledger entries",
        }
        assert all(v.status is not StepStatus.FAILED for v in result.verifications)
        hashed = {v.name for v in result.verifications if v.kind is VerificationKind.ROW_HASHES}
        assert hashed == {"table ledger_entries", "table ledger_transactions", "table wallets"}
        assert result.rpo_seconds is not None
        assert result.rpo_seconds >= 0
        reports = {Path(a.uri.removeprefix("file://")).suffix for a in out.drill.artifacts}
        assert reports == {".md", ".html", ".pdf"}
        assert all(Path(a.uri.removeprefix("file://")).is_file() for a in out.drill.artifacts)

        for kind, field, name in (
            ("backup_freshness", "backup", "payments-db"),
            ("drill_recency", "drill", "monthly"),
        ):
            job = prepare_job(config, store, kind=kind, field=field, name=name, service="payments")
            try:
                evidence = await record_job(config, store, job)
            finally:
                await job.aclose()
            assert evidence is not None
            assert evidence.verdict is Verdict.PASS, (kind, evidence)
    finally:
        store.dispose()
