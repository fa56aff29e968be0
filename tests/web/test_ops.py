"""flightdeck's own /health, /ready and /metrics."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx2
from fastapi.testclient import TestClient

from flightdeck.access import Role, create_token
from flightdeck.clock import SystemClock
from flightdeck.config.models import Config
from flightdeck.engine.metrics import SchedulerMetrics
from flightdeck.engine.scheduler import Scheduler
from flightdeck.store import Store
from flightdeck.web.app import create_app
from tests.web.conftest import AppClient, tcp_config


def test_health_is_public(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_without_a_scheduler(client: TestClient) -> None:
    body = client.get("/ready").json()
    assert body == {
        "status": "ok",
        "components": {
            "store": {"status": "ok", "reason": None},
            "schema": {"status": "ok", "reason": None},
            "scheduler": {"status": "off", "reason": None},
        },
    }


def test_ready_fails_when_the_schema_is_not_current(tmp_path: Path, config: Config) -> None:
    store = Store(f"sqlite:///{tmp_path / 'empty.db'}")  # never migrated
    try:
        with TestClient(create_app(config, store)) as client:
            response = client.get("/ready")
    finally:
        store.dispose()
    assert response.status_code == 503
    assert response.json()["components"]["schema"] == {
        "status": "fail",
        "reason": "not at the newest migration",
    }


def test_ready_fails_when_the_store_is_unreachable(config: Config, refused_port: int) -> None:
    gone = Store(f"postgresql://nobody:pw-Secret-1@127.0.0.1:{refused_port}/nothing")
    try:
        with TestClient(create_app(config, gone)) as client:
            response = client.get("/ready")
    finally:
        gone.dispose()
    assert response.status_code == 503
    components = response.json()["components"]
    assert components["store"] == {"status": "fail", "reason": "unreachable"}
    assert components["schema"]["status"] == "fail"
    for leak in ("nobody", "pw-Secret-1", str(refused_port)):
        assert leak not in response.text


async def test_ready_follows_the_scheduler(store: Store, config: Config) -> None:
    metrics = SchedulerMetrics()
    scheduler = Scheduler(config, store, clock=SystemClock(), metrics=metrics, maintenance=False)
    app = create_app(config, store, scheduler=scheduler, registry=metrics.registry)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        before = await client.get("/ready")
        assert before.status_code == 503
        assert before.json()["components"]["scheduler"] == {"status": "fail", "reason": "not running"}
        task = asyncio.create_task(scheduler.run())
        try:
            await asyncio.wait_for(scheduler.ready.wait(), 30)
            for _ in range(200):  # the first pass over due checks
                if scheduler.health().last_tick is not None:
                    break
                await asyncio.sleep(0.05)
            running = await client.get("/ready")
            assert running.status_code == 200, running.text
            assert running.json()["components"]["scheduler"] == {"status": "ok", "reason": None}
        finally:
            scheduler.stop()
            await asyncio.wait_for(task, 30)
        stopped = await client.get("/ready")
        assert stopped.status_code == 503


def test_metrics_need_a_token_and_hold_both_registries(
    make_client: AppClient, store: Store, listening_port: int, refused_port: int
) -> None:
    metrics = SchedulerMetrics()
    metrics.check_runs.labels("web", "up", "pass").inc()
    client = make_client(registry=metrics.registry)
    assert client.get("/metrics").status_code == 401
    token, _ = create_token(store, "prometheus", Role.VIEWER)
    client.get("/api/v1/checks/web/up", headers={"Authorization": f"Bearer {token}"})
    text = client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
    assert 'flightdeck_check_runs_total{check="up",service="web",verdict="pass"} 1.0' in text
    # Requests are labelled by route template, so label values stay bounded.
    assert 'route="/api/v1/checks/{service}/{check}"' in text
    assert 'route="/metrics",status="401"' in text
    assert "flightdeck_http_request_duration_seconds_bucket" in text
    public = make_client(tcp_config(listening_port, refused_port, metrics_public="true"))
    assert public.get("/metrics").status_code == 200
