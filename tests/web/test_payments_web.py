"""The payment-integrity pages and API: reconciliation runs, exceptions, resolving them (with CSRF,
roles and the audit trail) and downloading a run's report files. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from flightdeck.access import Role, create_token
from flightdeck.config import load_config_text
from flightdeck.config.models import Config
from flightdeck.evidence import NewEvidence, Trigger, Verdict
from flightdeck.payments.recon_store import (
    ExceptionStatus,
    ItemRow,
    audit_trail,
    fail_run,
    finish_run,
    get_exception,
    list_exceptions,
    start_run,
)
from flightdeck.payments.records import Category
from flightdeck.store import CheckRow, Store, insert_evidence, list_statuses, record_outcome, sync_checks
from tests.web.conftest import AppClient, log_in


@pytest.fixture
def config(tmp_path: Path, listening_port: int) -> Config:
    text = f"""
datasources:
  main: {{url: "postgresql://app@127.0.0.1:5432/app"}}
services:
  shop:
    checks:
      - {{name: up, kind: tcp, host: 127.0.0.1, port: {listening_port}}}
payments:
  reconciliations:
    stripe:
      service: shop
      description: Card payments against the Stripe balance report
      internal: {{datasource: main, query: SELECT 1}}
      statement: {{inbox: inbox, mapping: stripe_balance}}
      reports_dir: reports
"""
    return load_config_text(text, "flightdeck.yaml", env={}, base_dir=tmp_path)


SUMMARY = {
    "categories": {
        "matched": {"items": 7, "internal_rows": 7, "statement_rows": 7, "internal_minor": {"EUR": 70000},
                    "statement_minor": {"EUR": 70000}},
        "amount_mismatch": {"items": 1, "internal_rows": 1, "statement_rows": 1, "internal_minor": {"EUR": 1250},
                            "statement_minor": {"EUR": 1200}},
        "missing_in_statement": {"items": 1, "internal_rows": 1, "statement_rows": 0, "internal_minor": {"EUR": 990}},
    },
    "matched_items": 7,
    "exception_items": 2,
    "files": [{"name": "balance.csv", "sha256": "ab" * 32, "rows": 8, "skipped": None}],
    "currencies": ["EUR"],
}  # fmt: skip


def seed_run(store: Store, recon: str = "stripe") -> tuple[int, int, int]:
    """A succeeded run with two exceptions; returns (run id, mismatch exception id, missing id)."""
    run_id = start_run(store, recon, date(2025, 1, 5))
    finish_run(
        store,
        run_id,
        inputs_digest="ef" * 32,
        internal_rows=9,
        statement_rows=8,
        summary=SUMMARY,
        items=[
            ItemRow(
                "fp-a",
                Category.AMOUNT_MISMATCH,
                "amount differs by 0.50 EUR <b>x</b>",
                {"internal": ["ch_1"], "statement": ["ch_1"]},
                {"internal": [["datasource:main", 1]], "statement": [["balance.csv", 2]]},
                "EUR",
                1250,
                1200,
                50,
            ),
            ItemRow(
                "fp-b",
                Category.MISSING_IN_STATEMENT,
                "ch_2 is not on the statement",
                {"internal": ["ch_2"], "statement": []},
                {"internal": [["datasource:main", 2]], "statement": []},
                "EUR",
                990,
                None,
                990,
            ),
        ],
        files=[],
    )
    by_fp = {e.fingerprint: e.id for e in list_exceptions(store, recon=recon)}
    return run_id, by_fp["fp-a"], by_fp["fp-b"]


def test_pages_render_for_a_viewer(client: TestClient, store: Store, users: dict[Role, str]) -> None:
    run_id, mismatch, _ = seed_run(store)
    failed = start_run(store, "stripe", date(2025, 1, 6))
    fail_run(store, failed, "statement inbox unreadable: permission denied")
    drill = NewEvidence(
        subject="shop/drill", service="shop", check="drill", kind="gateway_drill", trigger=Trigger.MANUAL,
        config_digest="d" * 64, started_at=store.clock.now(), finished_at=store.clock.now(),
        verdict=Verdict.FAIL, duration_ms=1200.0, summary="2 payments charged twice",
    )  # fmt: skip
    with store.engine.begin() as conn:
        known = [
            CheckRow(s.subject, s.service, s.check, s.kind, "d" * 64, s.enabled) for s in list_statuses(conn)
        ]
        sync_checks(
            conn,
            [*known, CheckRow("shop/drill", "shop", "drill", "gateway_drill", "d" * 64, True)],
            drill.finished_at,
        )
        (eid,) = insert_evidence(conn, [drill])
        record_outcome(conn, eid, drill)
    log_in(client, "viewer")

    page = client.get("/payments")
    assert page.status_code == 200
    html = page.text
    assert 'href="/payments" aria-current="page"' in html
    assert "Card payments against the Stripe balance report" in html
    assert f'href="/payments/runs/{failed}"' in html  # the latest run is the failed one
    assert "statement inbox unreadable: permission denied" in html
    assert f'href="/payments/runs/{run_id}"' in html  # the earlier one is listed
    assert 'class="open-n"' in html
    assert ">2</a>" in html
    assert "2 payments charged twice" in html
    assert "shop/drill" in html

    # A drill run on demand, which no configured check names, is listed from its evidence.
    adhoc = drill.model_copy(
        update={"subject": "shop/gateway-drill-broken-retry", "check": "gateway-drill-broken-retry",
                "summary": "double charge payment:11: charged 2 times"}
    )  # fmt: skip
    with store.engine.begin() as conn:
        (adhoc_id,) = insert_evidence(conn, [adhoc])
    html = client.get("/payments").text
    assert "shop/gateway-drill-broken-retry" in html
    assert "double charge payment:11: charged 2 times" in html
    assert f'href="/evidence/{adhoc_id}"' in html

    run = client.get(f"/payments/runs/{run_id}").text
    assert '<svg class="bars bars-narrow"' in run
    assert "amount differs by 0.50 EUR &lt;b&gt;x&lt;/b&gt;" in run
    assert "12.50 EUR" in run
    assert "700.00 EUR" in run
    assert f'href="/payments/exceptions/{mismatch}"' in run
    for fmt in ("md", "html", "pdf", "csv"):
        assert f'href="/payments/runs/{run_id}/files/{fmt}"' in run
    failed_page = client.get(f"/payments/runs/{failed}").text
    assert "This run failed" in failed_page
    assert "permission denied" in failed_page

    listing = client.get("/payments/exceptions").text
    assert f'href="/payments/exceptions/{mismatch}"' in listing
    assert "/resolve" not in listing  # a viewer gets no form
    one = client.get(f"/payments/exceptions/{mismatch}").text
    assert "Audit trail" in one
    assert "opened" in one
    assert 'action="/payments/exceptions' not in one

    assert client.get("/payments/runs/9999").status_code == 404
    assert client.get("/payments/exceptions/9999").status_code == 404
    assert client.get("/payments/exceptions?status=bogus").status_code == 400


def test_an_operator_resolves_through_the_form_and_it_is_audited(
    client: TestClient, store: Store, users: dict[Role, str]
) -> None:
    _, mismatch, missing = seed_run(store)
    csrf = log_in(client, "operator")
    listing = client.get("/payments/exceptions").text
    assert f'action="/payments/exceptions/{mismatch}/resolve"' in listing

    blank = client.post(f"/payments/exceptions/{mismatch}/resolve", data={"csrf": csrf, "note": "  "})
    assert blank.status_code == 400
    assert "Write a note" in blank.text
    assert get_exception(store, mismatch).status is ExceptionStatus.OPEN

    done = client.post(
        f"/payments/exceptions/{mismatch}/resolve",
        data={
            "csrf": csrf,
            "note": "refunded by hand, ticket 4411",
            "next": "/payments/exceptions?status=open",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/payments/exceptions?status=open"
    resolved = get_exception(store, mismatch)
    assert (resolved.status, resolved.resolved_by, resolved.note) == (
        ExceptionStatus.RESOLVED,
        "operator",
        "refunded by hand, ticket 4411",
    )
    assert next((a.action, a.actor, a.note) for a in audit_trail(store, mismatch)) == (
        "resolved",
        "operator",
        "refunded by hand, ticket 4411",
    )
    assert get_exception(store, missing).status is ExceptionStatus.OPEN  # only the one asked for

    again = client.post(f"/payments/exceptions/{mismatch}/resolve", data={"csrf": csrf, "note": "twice"})
    assert again.status_code == 409
    assert "already resolved" in again.text

    page = client.get(f"/payments/exceptions/{mismatch}").text
    assert "refunded by hand, ticket 4411" in page
    assert f'action="/payments/exceptions/{mismatch}/reopen"' in page
    reopened = client.post(
        f"/payments/exceptions/{mismatch}/reopen",
        data={"csrf": csrf, "note": "the refund bounced"},
        follow_redirects=False,
    )
    assert reopened.status_code == 303
    assert reopened.headers["location"] == f"/payments/exceptions/{mismatch}"
    assert get_exception(store, mismatch).status is ExceptionStatus.OPEN
    assert [a.action for a in audit_trail(store, mismatch)] == ["reopened", "resolved", "opened"]
    off_site = client.post(
        f"/payments/exceptions/{missing}/resolve",
        data={"csrf": csrf, "note": "ok", "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert off_site.headers["location"] == "/"


def test_a_viewer_may_not_resolve(client: TestClient, store: Store, users: dict[Role, str]) -> None:
    _, mismatch, _ = seed_run(store)
    csrf = log_in(client, "viewer")
    response = client.post(
        f"/payments/exceptions/{mismatch}/resolve", data={"csrf": csrf, "note": "mine now"}
    )
    assert response.status_code == 403
    assert get_exception(store, mismatch).status is ExceptionStatus.OPEN
    assert [a.action for a in audit_trail(store, mismatch)] == ["opened"]


def test_the_form_needs_the_csrf_token(client: TestClient, store: Store, users: dict[Role, str]) -> None:
    _, mismatch, _ = seed_run(store)
    csrf = log_in(client, "admin")
    url = f"/payments/exceptions/{mismatch}/resolve"
    assert client.post(url, data={"note": "no token"}).status_code == 403
    assert client.post(url, data={"note": "wrong", "csrf": "nope"}).status_code == 403
    cross = client.post(url, data={"note": "x", "csrf": csrf}, headers={"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    assert get_exception(store, mismatch).status is ExceptionStatus.OPEN


def test_report_files_download_from_the_reports_folder(
    make_client: AppClient, store: Store, users: dict[Role, str], tmp_path: Path, listening_port: int
) -> None:
    run_id, _, _ = seed_run(store)
    client = make_client()
    log_in(client, "viewer")
    pdf = client.get(f"/payments/runs/{run_id}/files/pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")
    assert pdf.headers["content-type"] == "application/pdf"
    name = f"recon-stripe-2025-01-05-run{run_id}"
    assert pdf.headers["content-disposition"].startswith("attachment")
    assert f"{name}.pdf" in pdf.headers["content-disposition"]
    written = sorted(p.name for p in (tmp_path / "reports").iterdir())
    assert written == [f"{name}-exceptions.csv", f"{name}.html", f"{name}.md", f"{name}.pdf"]
    csv_file = client.get(f"/payments/runs/{run_id}/files/csv")
    assert csv_file.content == (tmp_path / "reports" / f"{name}-exceptions.csv").read_bytes()
    assert "ch_2 is not on the statement" in csv_file.text
    # An existing file is served as written (here: as the evidence recorded it), not rewritten.
    (tmp_path / "reports" / f"{name}.md").write_text("# as recorded\n")
    assert client.get(f"/payments/runs/{run_id}/files/md").text == "# as recorded\n"
    for bad in ("exe", "..%2F..%2Fflightdeck.yaml", "md%2F..%2F..%2Fx"):
        assert client.get(f"/payments/runs/{run_id}/files/{bad}").status_code in (400, 404)
    assert client.get("/payments/runs/9999/files/md").status_code == 404

    other = start_run(store, "retired-recon", date(2025, 1, 5))
    fail_run(store, other, "gone")
    assert client.get(f"/payments/runs/{other}/files/md").status_code == 404  # no reports folder known


@pytest.fixture
def tokens(store: Store) -> dict[Role, dict[str, str]]:
    return {role: {"Authorization": f"Bearer {create_token(store, role.value, role)[0]}"} for role in Role}


def test_api_lists_runs_and_exceptions(
    client: TestClient, store: Store, tokens: dict[Role, dict[str, str]]
) -> None:
    assert client.get("/api/v1/reconciliations").status_code == 401
    viewer = tokens[Role.VIEWER]
    empty = client.get("/api/v1/reconciliations", headers=viewer).json()
    assert empty == [
        {
            "name": "stripe",
            "service": "shop",
            "description": "Card payments against the Stripe balance report",
            "latest_run": None,
            "open_exceptions": 0,
        }
    ]
    run_id, mismatch, missing = seed_run(store)
    latest = client.get("/api/v1/reconciliations", headers=viewer).json()[0]
    assert latest["latest_run"]["id"] == run_id
    assert latest["latest_run"]["status"] == "succeeded"
    assert latest["latest_run"]["summary"]["matched_items"] == 7
    assert latest["open_exceptions"] == 2

    run = client.get(f"/api/v1/reconciliations/runs/{run_id}", headers=viewer).json()
    assert run["day"] == "2025-01-05"
    assert [(i["category"], i["difference_minor"], i["exception_id"], i["status"]) for i in run["items"]] == [
        ("amount_mismatch", 50, mismatch, "open"),
        ("missing_in_statement", 990, missing, "open"),
    ]
    assert run["items"][0]["rows"]["statement"] == [["balance.csv", 2]]
    assert client.get("/api/v1/reconciliations/runs/9999", headers=viewer).status_code == 404

    listed = client.get(
        "/api/v1/reconciliations/exceptions", params={"status": "open"}, headers=viewer
    ).json()
    assert sorted(e["id"] for e in listed) == sorted([mismatch, missing])
    assert (
        client.get("/api/v1/reconciliations/exceptions", params={"recon": "other"}, headers=viewer).json()
        == []
    )
    assert (
        client.get(
            "/api/v1/reconciliations/exceptions", params={"status": "bogus"}, headers=viewer
        ).status_code
        == 422
    )


def test_api_resolves_with_roles_conflicts_and_audit(
    client: TestClient, store: Store, tokens: dict[Role, dict[str, str]]
) -> None:
    _, mismatch, _ = seed_run(store)
    url = f"/api/v1/reconciliations/exceptions/{mismatch}/resolve"
    assert client.post(url, json={"note": "x"}).status_code == 401
    denied = client.post(url, json={"note": "x"}, headers=tokens[Role.VIEWER])
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "forbidden"
    operator = tokens[Role.OPERATOR]
    assert client.post(url, json={"note": "   "}, headers=operator).status_code == 422
    assert client.post(url, json={}, headers=operator).status_code == 422

    ok = client.post(url, json={"note": "customer refunded"}, headers=operator)
    assert ok.status_code == 200
    body = ok.json()
    assert (body["status"], body["resolved_by"], body["note"]) == (
        "resolved",
        "token:operator",
        "customer refunded",
    )

    conflict = client.post(url, json={"note": "again"}, headers=tokens[Role.ADMIN])
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "conflict"
    assert "already resolved" in conflict.json()["error"]["message"]

    reopened = client.post(url, json={"note": "bounced", "reopen": True}, headers=operator)
    assert reopened.status_code == 200
    assert reopened.json()["status"] == "open"
    assert client.post(url, json={"note": "bounced", "reopen": True}, headers=operator).status_code == 409
    assert (
        client.post(
            "/api/v1/reconciliations/exceptions/9999/resolve", json={"note": "x"}, headers=operator
        ).status_code
        == 404
    )

    trail = client.get(f"/api/v1/reconciliations/exceptions/{mismatch}/audit", headers=tokens[Role.VIEWER])
    assert trail.status_code == 200
    assert [(a["action"], a["actor"], a["note"]) for a in trail.json()] == [
        ("reopened", "token:operator", "bounced"),
        ("resolved", "token:operator", "customer refunded"),
        ("opened", "flightdeck", "amount differs by 0.50 EUR <b>x</b>"),
    ]
    assert client.get("/api/v1/reconciliations/exceptions/9999/audit", headers=operator).status_code == 404


def test_api_resolve_with_a_session_needs_the_csrf_header(
    client: TestClient, store: Store, users: dict[Role, str]
) -> None:
    _, mismatch, _ = seed_run(store)
    csrf = log_in(client, "operator")
    url = f"/api/v1/reconciliations/exceptions/{mismatch}/resolve"
    assert client.post(url, json={"note": "x"}).status_code == 403
    ok = client.post(url, json={"note": "explained"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200
    assert ok.json()["resolved_by"] == "operator"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T.*", ok.json()["resolved_at"])
