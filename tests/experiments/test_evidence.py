"""Experiment runs as evidence: the ``experiment`` check kind and ``flightdeck experiment``."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flightdeck.backups.run import run_backup
from flightdeck.cli.experiment_cmd import app
from flightdeck.config import load_config
from flightdeck.engine.oneshot import run_checks_now
from flightdeck.evidence import Verdict
from flightdeck.experiments import JOURNAL_DETAIL_KEY, ExperimentStatus, Phase, StepStatus, run_experiment
from flightdeck.store import Store
from flightdeck.store.evidence import EvidenceFilter, list_evidence
from tests.experiments.conftest import ADMIN_TOKEN, Toy, write_config
from tests.experiments.test_run import outage_yaml

runner = CliRunner()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'flightdeck.db'}")  # the system clock: probes really poll
    s.migrate()
    yield s
    s.dispose()


async def test_a_scheduled_experiment_records_its_journal_as_evidence(
    tmp_path: Path, toy: Toy, store: Store
) -> None:
    yaml = outage_yaml(toy).replace(
        "      - {name: ready, kind: http,",
        "      - {name: outage-drill, kind: experiment, experiment: outage, cron: '0 10 * * 1'}\n"
        "      - {name: ready, kind: http,",
    )
    config = write_config(tmp_path, yaml, {"ADMIN_TOKEN": ADMIN_TOKEN})
    (result,) = await run_checks_now(config, store, "web/outage-drill")
    evidence = result.evidence
    assert evidence.verdict is Verdict.PASS, evidence.summary
    assert evidence.kind == "experiment"
    assert evidence.subject == "web/outage-drill"
    journal = evidence.detail[JOURNAL_DETAIL_KEY]
    assert isinstance(journal, dict)
    assert journal["status"] == "completed"
    (artifact,) = evidence.artifacts
    assert artifact.media_type == "application/json"
    assert artifact.uri.startswith("file://")
    assert json.loads(Path(artifact.uri.removeprefix("file://")).read_text())["status"] == "completed"
    assert evidence.measurement("recovery_seconds") == journal["recovery_seconds"]
    assert ADMIN_TOKEN not in evidence.model_dump_json()


async def test_a_deviated_experiment_is_a_failing_check(tmp_path: Path, toy: Toy, store: Store) -> None:
    toy.fix_works = False
    yaml = outage_yaml(toy, target="100ms").replace(
        "      - {name: ready, kind: http,",
        "      - {name: outage-drill, kind: experiment, experiment: outage, enabled: false}\n"
        "      - {name: ready, kind: http,",
    )
    config = write_config(tmp_path, yaml, {"ADMIN_TOKEN": ADMIN_TOKEN})
    (result,) = await run_checks_now(config, store, "web/outage-drill")
    assert result.evidence.verdict is Verdict.FAIL
    assert result.evidence.summary.startswith("did not recover: /ready answers 200")
    with store.engine.begin() as conn:
        page = list_evidence(conn, EvidenceFilter(kind="experiment"))
    assert [e.id for e in page.items] == [getattr(result.evidence, "id", None)]


def _commands_config(tmp_path: Path, fail: bool) -> Path:
    marker = tmp_path / "rolled-back"
    path = tmp_path / "flightdeck.yaml"
    path.write_text(
        f"""store: {{state_dir: {tmp_path / "state"}}}
services:
  web: {{}}
experiments:
  restart:
    service: web
    description: restart the worker
    method:
      - {{name: restart, action: command, argv: ["{"false" if fail else "true"}"]}}
    rollbacks:
      - {{name: undo, action: command, argv: [touch, "{marker}"]}}
""",
        encoding="utf-8",
    )
    return path


def test_cli_runs_records_and_lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLIGHTDECK_DATABASE_URL", raising=False)
    path = _commands_config(tmp_path, fail=False)
    ran = runner.invoke(app, ["run", "restart", "-c", str(path), "--json"])
    assert ran.exit_code == 0, ran.output
    out = json.loads(ran.stdout)
    assert out["status"] == "completed"
    assert isinstance(out["evidence_id"], int)
    assert [s["name"] for s in out["steps"]] == ["restart", "undo"]
    with closing(sqlite3.connect(tmp_path / "state" / "flightdeck.db")) as conn:
        rows = conn.execute("SELECT subject, kind, verdict FROM evidence").fetchall()
    assert rows == [("web/experiment-restart", "experiment", "pass")]

    listed = runner.invoke(app, ["list", "-c", str(path), "--json"])
    assert listed.exit_code == 0
    assert json.loads(listed.stdout)[0] | {"description": ""} == {
        "name": "restart",
        "service": "web",
        "description": "",
        "steady_state": [],
        "method": ["restart"],
        "rollbacks": ["undo"],
        "recovery": [],
        "recovery_target_seconds": None,
    }


def test_cli_exits_1_when_the_experiment_fails_and_prints_each_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLIGHTDECK_DATABASE_URL", raising=False)
    path = _commands_config(tmp_path, fail=True)
    ran = runner.invoke(app, ["run", "restart", "-c", str(path), "--no-record"])
    assert ran.exit_code == 1
    assert "restart" in ran.stdout
    assert "undo" in ran.stdout
    assert "failed" in ran.stdout
    assert (tmp_path / "rolled-back").exists()
    assert not (tmp_path / "state" / "flightdeck.db").exists()
    unknown = runner.invoke(app, ["run", "nope", "-c", str(path)])
    assert unknown.exit_code == 2


def _sqlite_backup_config(tmp_path: Path, target: Path, force: str = "") -> Path:
    with closing(sqlite3.connect(tmp_path / "app.db")) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY)")
        conn.executemany("INSERT INTO t DEFAULT VALUES", [()] * 12)
        conn.commit()
    path = tmp_path / "flightdeck.yaml"
    path.write_text(
        f"""store: {{state_dir: {tmp_path / "state"}}}
services:
  web: {{}}
datasources:
  app: {{url: "sqlite:///{tmp_path / "app.db"}"}}
backups:
  appdb: {{service: web, datasource: app, storage: {{path: {tmp_path / "backups"}}}}}
experiments:
  restore:
    service: web
    method:
      - {{name: restore, action: restore, backup: appdb, to: "sqlite:///{target}"{force}}}
      - {{name: rows are back, probe: command, argv: [test, -s, "{target}"]}}
""",
        encoding="utf-8",
    )
    return path


async def test_a_restore_action_restores_the_newest_backup(tmp_path: Path) -> None:
    target = tmp_path / "restored.db"
    config = load_config(_sqlite_backup_config(tmp_path, target), env={})
    backup = run_backup("appdb", config.backups["appdb"], config.datasources["app"])
    journal = await run_experiment(config, "restore")
    assert journal.status is ExperimentStatus.COMPLETED, journal.findings
    restore = journal.phase(Phase.METHOD)[0]
    assert restore.detail["backup_id"] == backup.manifest.backup_id
    assert "row counts match the manifest" in restore.output
    with closing(sqlite3.connect(target)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM t").fetchone() == (12,)


async def test_a_restore_over_the_source_is_refused_and_fails_the_experiment(tmp_path: Path) -> None:
    source = tmp_path / "app.db"
    config = load_config(_sqlite_backup_config(tmp_path, source), env={})
    run_backup("appdb", config.backups["appdb"], config.datasources["app"])
    journal = await run_experiment(config, "restore")
    assert journal.status is ExperimentStatus.FAILED
    restore, probe = journal.phase(Phase.METHOD)
    assert restore.status is StepStatus.FAILED
    assert probe.status is StepStatus.SKIPPED
    assert "refusing to restore" in restore.output
    assert "own source database" in restore.output
