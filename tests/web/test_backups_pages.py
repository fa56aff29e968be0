"""The backups cockpit pages and the drills API: latest backups, freshness and drill results read
from evidence, a drill's page with its report files, downloads limited to recorded artifacts in
the drill's reports folder, login and roles, secrets scrubbed. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from flightdeck.access import Role, create_token
from flightdeck.config import load_config_text
from flightdeck.config.models import Config
from flightdeck.evidence import Measurement, NewEvidence, Verdict
from flightdeck.reports.dr import write_dr_report
from flightdeck.store import Store, insert_evidence
from tests.reports.drills import INVARIANT_SQL, START, drill, store_drill
from tests.web.conftest import AppClient, log_in

SECRET = "pg-s3cret-Zq81xw"
SOURCE = f"postgresql://app:{SECRET}@db.internal:5432/payments"  # as a careless drill might describe it


@pytest.fixture
def reports_dir(tmp_path: Path) -> Path:
    path = tmp_path / "dr-reports"
    path.mkdir()
    return path


@pytest.fixture
def config(tmp_path: Path, listening_port: int, reports_dir: Path) -> Config:
    text = f"""
datasources:
  payments: {{url: "{SOURCE}"}}
services:
  payments:
    checks:
      - {{name: up, kind: tcp, host: 127.0.0.1, port: {listening_port}}}
backups:
  payments-db:
    service: payments
    datasource: payments
    storage: {{kind: local, path: backups}}
  orders-db:
    service: payments
    datasource: payments
    storage: {{kind: local, path: backups}}
drills:
  payments-dr: {{backup: payments-db, scratch: "postgresql://drill@127.0.0.1:5432/postgres", reports_dir: {reports_dir}}}
  orders-dr: {{backup: orders-db, scratch: "postgresql://drill@127.0.0.1:5432/postgres", reports_dir: {reports_dir}}}
"""
    return load_config_text(text, "flightdeck.yaml", env={}, base_dir=tmp_path)


def seed_backup_evidence(store: Store) -> tuple[int, int]:
    """A backup run of payments-db and its freshness check; returns their evidence ids."""
    now = store.clock.now()
    run = NewEvidence(
        subject="payments/backup:payments-db", service="payments", check="backup:payments-db", kind="backup",
        producer="job", config_digest="d" * 64, started_at=now - timedelta(seconds=40), finished_at=now,
        verdict=Verdict.PASS, duration_ms=40_000.0, summary="backup 20261123T030000Z-ab12cd: 2 tables",
        measurements=(Measurement(name="stored_bytes", value=734003, unit="bytes"),
                      Measurement(name="rows", value=49313)),
        detail={"backup": "payments-db", "backup_id": "20261123T030000Z-ab12cd"},
    )  # fmt: skip
    fresh = run.model_copy(
        update={"kind": "backup_freshness", "check": "fresh:payments-db", "verdict": Verdict.WARN,
                "summary": "newest backup is 26 h old (limit 24 h)",
                "detail": {"backup": "payments-db", "age_seconds": 93600, "max_age_seconds": 86400}}
    )  # fmt: skip
    with store.engine.begin() as conn:
        ids = insert_evidence(conn, [run, fresh])
    return ids[0], ids[1]


def test_pages_need_a_login(client: TestClient, store: Store) -> None:
    evidence_id = store_drill(store, drill())
    for path in ("/backups", f"/backups/drills/{evidence_id}", f"/backups/drills/{evidence_id}/files/md"):
        page = client.get(path, follow_redirects=False)
        assert page.status_code == 401, path
        assert 'name="csrf"' in page.text  # the login form, not the drill
        assert "payments-dr" not in page.text
    for path in ("/api/v1/drills", f"/api/v1/drills/{evidence_id}"):
        assert client.get(path).status_code == 401


def test_backups_page_shows_backups_freshness_and_drills(
    client: TestClient, store: Store, users: dict[Role, str]
) -> None:
    run_id, fresh_id = seed_backup_evidence(store)
    history = [drill(started=START - timedelta(days=7 * i), restore_seconds=100.0 + i) for i in (3, 2, 1)]
    for d in history:
        store_drill(store, d)
    failed = store_drill(store, drill(outcome="invariant", source=SOURCE))
    log_in(client, "viewer")

    page = client.get("/backups")
    assert page.status_code == 200
    html = page.text
    assert 'href="/backups" aria-current="page"' in html
    # Backups: the latest run of payments-db with its size and rows, its freshness verdict.
    assert f'href="/evidence/{run_id}"' in html
    assert "20261123T030000Z-ab12cd" in html
    assert "717 KiB" in html
    assert "49.3k" in html
    assert f'href="/evidence/{fresh_id}"' in html
    assert "newest backup is 26 h old (limit 24 h)" in html
    assert "No backup has run yet: <code>flightdeck backup run orders-db</code>" in html
    # Drills: the latest payments-dr result, failed, with its figures and charts.
    assert "The drill failed: the database was restored in 4 min 12 s, but 1 of 2 checks" in html
    assert f'href="/backups/drills/{failed}"' in html
    assert '<svg class="bars bars-narrow"' in html
    trend = re.search(r'<svg class="trend trend-narrow".*?</svg>', html, re.S)
    assert trend is not None
    assert re.findall(r'class="trend-point ([^"]*)"', trend.group(0)) == ["trend-ok"] * 3 + ["trend-fail"]
    assert "No drill has run yet: <code>flightdeck drill run orders-dr</code>" in html
    assert SECRET not in html


def test_drill_page_shows_the_drill_and_serves_only_its_recorded_reports(
    client: TestClient, store: Store, users: dict[Role, str], reports_dir: Path, tmp_path: Path
) -> None:
    earlier = drill(started=START - timedelta(days=7))
    earlier_id = store_drill(store, earlier)
    result = drill(outcome="invariant", source=SOURCE)
    artifacts = write_dr_report(result, [earlier], reports_dir)
    # Recorded on the evidence too, but written outside the drill's reports folder.
    outside = write_dr_report(drill(started=START + timedelta(days=1)), [], tmp_path / "elsewhere")[0]
    evidence_id = store_drill(store, result, (*artifacts, outside))
    log_in(client, "viewer")

    page = client.get(f"/backups/drills/{evidence_id}")
    assert page.status_code == 200
    html = page.text
    assert "The drill failed: the database was restored in 4 min 12 s" in html
    escaped = INVARIANT_SQL.replace("<", "&lt;").replace(">", "&gt;")
    assert escaped in html
    assert "<td><code>acc-7731</code></td>" in html
    assert f'href="/backups/drills/{earlier_id}"' in html  # the history links earlier drills
    assert SECRET not in html
    for fmt in ("md", "html", "pdf"):
        assert f'href="/backups/drills/{evidence_id}/files/{fmt}"' in html
    assert outside.name not in html

    for fmt, a in zip(("md", "html", "pdf"), artifacts, strict=True):
        got = client.get(f"/backups/drills/{evidence_id}/files/{fmt}")
        assert got.status_code == 200
        assert got.content == (reports_dir / a.name).read_bytes()
        assert got.headers["content-disposition"].startswith("attachment")
        assert a.name in got.headers["content-disposition"]
    assert client.get(f"/backups/drills/{evidence_id}/files/pdf").content.startswith(b"%PDF-")
    # Nothing but the three formats, and never a path from the request.
    for bad in ("csv", "exe", "..%2F..%2Fflightdeck.yaml", "md%2F..%2F..%2Fx", artifacts[0].name):
        assert client.get(f"/backups/drills/{evidence_id}/files/{bad}").status_code in (400, 404), bad

    # A drill whose evidence recorded no report: the files in the folder are not its to serve.
    bare_id = store_drill(store, result)
    assert client.get(f"/backups/drills/{bare_id}/files/md").status_code == 404
    assert f'href="/backups/drills/{bare_id}/files/' not in client.get(f"/backups/drills/{bare_id}").text
    # Recorded, but written outside the reports folder: not served either.
    elsewhere = store_drill(store, drill(started=START + timedelta(days=1)), (outside,))
    assert client.get(f"/backups/drills/{elsewhere}/files/md").status_code == 404
    # A recorded file changed on disk since is not served as if it were the one recorded.
    (reports_dir / artifacts[0].name).write_text("# rewritten\n")
    assert client.get(f"/backups/drills/{evidence_id}/files/md").status_code == 404

    assert client.get("/backups/drills/999999").status_code == 404
    run_id, _ = seed_backup_evidence(store)
    assert client.get(f"/backups/drills/{run_id}").status_code == 404  # a record, but not a drill


def test_a_drill_whose_restore_failed_renders(
    client: TestClient, store: Store, users: dict[Role, str]
) -> None:
    evidence_id = store_drill(store, drill(outcome="restore"))
    log_in(client, "viewer")
    html = client.get(f"/backups/drills/{evidence_id}").text
    assert "so the restore did not finish and there is no recovery time" in html
    assert "did not finish" in html
    assert "No verification ran." in html
    assert 'class="trend-point trend-fail trend-missing"' in html
    overview = client.get("/backups").text
    assert "the restore did not finish" in overview


@pytest.fixture
def tokens(store: Store) -> dict[Role, dict[str, str]]:
    return {role: {"Authorization": f"Bearer {create_token(store, role.value, role)[0]}"} for role in Role}


def test_api_lists_the_latest_drill_of_each_name_and_returns_one(
    client: TestClient, store: Store, tokens: dict[Role, dict[str, str]]
) -> None:
    viewer = tokens[Role.VIEWER]
    empty = client.get("/api/v1/drills", headers=viewer)
    assert empty.status_code == 200
    assert [(d["name"], d["configured"], d["evidence_id"]) for d in empty.json()] == [
        ("payments-dr", True, None),
        ("orders-dr", True, None),
    ]
    store_drill(store, drill(started=START - timedelta(days=7)))
    latest = store_drill(store, drill(outcome="invariant", source=SOURCE))
    adhoc = store_drill(store, drill(name="adhoc-dr", outcome="restore"))

    listed = {d["name"]: d for d in client.get("/api/v1/drills", headers=viewer).json()}
    assert list(listed) == ["payments-dr", "orders-dr", "adhoc-dr"]
    one = listed["payments-dr"]
    assert (one["evidence_id"], one["passed"], one["verdict"]) == (latest, False, "fail")
    assert (one["rto_seconds"], one["rto_target_seconds"], one["rto_met"]) == (252.0, 3600.0, True)
    assert (one["rpo_seconds"], one["rpo_met"]) == (1900.0, True)
    assert one["failures"] == ["invariant “ledger debits = credits” returned 1 row"]
    assert listed["orders-dr"]["evidence_id"] is None
    assert (listed["adhoc-dr"]["configured"], listed["adhoc-dr"]["rto_seconds"]) == (False, None)

    full = client.get(f"/api/v1/drills/{latest}", headers=viewer)
    assert full.status_code == 200
    body = full.json()
    assert body["drill"] == "payments-dr"
    assert body["verifications"][1]["query"] == INVARIANT_SQL
    assert body["verifications"][1]["result"] == [{"account": "acc-7731", "diff": 1250}]
    assert [s["name"] for s in body["steps"]][-1] == "verify"
    assert SECRET not in full.text
    assert SECRET not in client.get("/api/v1/drills", headers=viewer).text
    assert client.get(f"/api/v1/drills/{adhoc}", headers=viewer).json()["rto_seconds"] is None
    missing = client.get("/api/v1/drills/999999", headers=viewer)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")


def test_without_drills_configured_the_page_says_how_to_start(
    make_client: AppClient, store: Store, users: dict[Role, str], tmp_path: Path
) -> None:
    bare = load_config_text("services: {}\n", "flightdeck.yaml", env={}, base_dir=tmp_path)
    client = make_client(bare)
    log_in(client, "viewer")
    html = client.get("/backups").text
    assert "No backup configured." in html
    assert "flightdeck drill run NAME" in html
    evidence_id = store_drill(store, drill())
    page = client.get(f"/backups/drills/{evidence_id}")
    assert page.status_code == 200
    assert "drill payments-dr is no longer configured" in page.text
    assert client.get(f"/backups/drills/{evidence_id}/files/md").status_code == 404
