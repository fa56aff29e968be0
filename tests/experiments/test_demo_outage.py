"""The demo's ``database-outage`` experiment against the demo payments service itself."""

from __future__ import annotations

from pathlib import Path

from flightdeck.demo.certs import DemoCertificates
from flightdeck.demo.service import FaultName
from flightdeck.experiments import ExperimentStatus, Phase, StepStatus, run_experiment
from tests.demo.conftest import Api, api, demo_certs  # noqa: F401 - fixtures
from tests.demo.helpers import demo_config


async def test_the_database_fault_fails_readiness_and_the_api_until_switched_off(api: Api) -> None:  # noqa: F811
    token = await api.user()
    board = api.service.state.faults
    await board.activate(FaultName.DATABASE, api.service.state.now())
    status, doc, _ = await api.call("GET", "/ready")
    assert status == 503
    assert doc["checks"]["database:responseTime"][0]["status"] == "fail"
    assert "lost the connection" in doc["checks"]["database:responseTime"][0]["output"]
    status, body, _ = await api.call("GET", "/api/wallet", token=token)
    assert (status, body["error"]["code"]) == (503, "database_unavailable")
    await board.deactivate(FaultName.DATABASE, api.service.state.now())
    status, body, _ = await api.call("GET", "/api/wallet", token=token)
    assert status == 200
    assert body["balance_cents"] == 0


async def test_the_demo_database_outage_experiment_completes(
    api: Api,  # noqa: F811
    demo_certs: DemoCertificates,  # noqa: F811
    tmp_path: Path,
) -> None:
    config = demo_config(api.service, demo_certs.ca_file, tmp_path)
    journal = await run_experiment(config, "database-outage")
    assert journal.status is ExperimentStatus.COMPLETED, journal.findings
    method = journal.phase(Phase.METHOD)
    assert [s.name for s in method] == ["take the database down", "/ready answers 503", "ready check fails"]
    assert all(s.status is StepStatus.OK for s in method)
    assert method[1].output.startswith("503")
    assert method[2].detail["verdict"] == "fail"
    assert [s.status for s in journal.phase(Phase.ROLLBACKS)] == [StepStatus.OK]
    assert journal.recovery_target_seconds == 60
    assert journal.recovery_seconds is not None
    assert not api.service.state.db.down
    assert not api.service.state.faults.states[FaultName.DATABASE].active
    assert api.admin_token not in journal.model_dump_json()
