"""Running experiments against a real HTTP service on loopback and real processes."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from flightdeck.config import Config
from flightdeck.experiments import ExperimentStatus, Phase, StepRecord, StepStatus, run_experiment
from flightdeck.experiments.processes import alive
from flightdeck.secret import MASK
from tests.experiments.conftest import ADMIN_TOKEN, Toy, service_yaml, write_config

ENV = {"ADMIN_TOKEN": ADMIN_TOKEN}


def outage_yaml(toy: Toy, *, target: str = "30s", rollbacks: str | None = None) -> str:
    rollbacks = (
        rollbacks
        or f"""
      - name: fix readiness
        action: http
        url: {toy.url}/admin/fix
        headers: {{Authorization: "Bearer ${{ADMIN_TOKEN}}"}}
"""
    )
    return (
        service_yaml(toy)
        + f"""
experiments:
  outage:
    service: web
    steady_state:
      - {{name: ready check passes, probe: check, check: web/ready, expect: pass}}
    method:
      - name: break readiness
        action: http
        url: {toy.url}/admin/break
        headers: {{Authorization: "Bearer ${{ADMIN_TOKEN}}"}}
      - name: /ready turns 503
        probe: http
        url: {toy.url}/ready
        expect_status: 503
        json: ["$.db == 'down'"]
        within: 5s
        poll: 100ms
      - {{name: ready check fails, probe: check, check: web/ready, expect: fail, within: 5s, poll: 100ms}}
    rollbacks:{rollbacks}
    recovery:
      target: {target}
      poll: 100ms
      probes:
        - {{name: /ready answers 200, probe: http, url: "{toy.url}/ready", expect_status: 200, body_contains: up}}
        - {{name: ready check passes again, probe: check, check: web/ready, expect: pass}}
"""
    )


def experiment(folder: Path, toy: Toy, name: str, body: str) -> Config:
    """The configuration of one experiment ``name`` of the ``web`` service, its steps given as YAML."""
    return write_config(
        folder, service_yaml(toy) + f"experiments:\n  {name}:\n    service: web\n{body.lstrip(chr(10))}"
    )


def statuses(steps: list[StepRecord], phase: Phase) -> list[StepStatus]:
    return [s.status for s in steps if s.phase is phase]


async def test_an_outage_that_is_detected_and_recovered_completes(tmp_path: Path, toy: Toy) -> None:
    config = write_config(tmp_path, outage_yaml(toy), ENV)
    seen: list[tuple[str, StepStatus]] = []
    journal = await run_experiment(config, "outage", progress=lambda s: seen.append((s.name, s.status)))

    assert journal.status is ExperimentStatus.COMPLETED, journal.findings
    assert toy.admin_calls == ["/admin/break", "/admin/fix"]
    assert toy.ready
    assert statuses(journal.steps, Phase.METHOD) == [StepStatus.OK] * 3
    assert statuses(journal.steps, Phase.ROLLBACKS) == [StepStatus.OK]
    assert statuses(journal.steps, Phase.RECOVERY) == [StepStatus.OK] * 2
    assert statuses(journal.steps, Phase.STEADY_STATE_AFTER) == [StepStatus.OK]
    probe = journal.phase(Phase.METHOD)[1]
    assert probe.attempts is not None
    assert probe.attempts >= 1
    assert probe.held_after_seconds is not None
    assert probe.within_seconds == 5
    assert journal.recovery_seconds is not None
    assert journal.recovery_target_seconds == 30
    # Each step was reported when it started and when it ended, in order.
    assert seen[0] == ("ready check passes", StepStatus.RUNNING)
    assert seen[1] == ("ready check passes", StepStatus.OK)
    assert [name for name, st in seen if st is not StepStatus.RUNNING] == [s.name for s in journal.steps]
    # The journal on disk is the returned one.
    assert journal.journal_file is not None
    on_disk = json.loads(Path(journal.journal_file).read_text())
    assert on_disk == journal.model_dump(mode="json")
    obs = journal.observation()
    assert obs.failures == []
    names = {m.name: m.value for m in obs.measurements}
    assert names["recovery_seconds"] == journal.recovery_seconds
    assert names["ready_turns_503_seconds"] == probe.held_after_seconds
    assert "completed" in journal.summary


async def test_a_steady_state_that_does_not_hold_aborts_before_the_method(tmp_path: Path, toy: Toy) -> None:
    toy.ready = False
    marker = tmp_path / "method-ran"
    config = experiment(
        tmp_path,
        toy,
        "outage",
        f"""
    steady_state:
      - {{name: ready, probe: http, url: "{toy.url}/ready", expect_status: 200}}
    method:
      - {{name: touch, action: command, argv: [touch, "{marker}"]}}
    rollbacks:
      - {{name: touch too, action: command, argv: [touch, "{marker}"]}}
""",
    )
    journal = await run_experiment(config, "outage")
    assert journal.status is ExperimentStatus.ABORTED
    assert not marker.exists()
    assert statuses(journal.steps, Phase.METHOD) == [StepStatus.SKIPPED]
    assert statuses(journal.steps, Phase.ROLLBACKS) == [StepStatus.SKIPPED]
    assert not journal.rollbacks_ran
    assert "status 503 not in [200]" in journal.findings[0]
    assert journal.observation().failures == journal.findings


async def test_a_failing_action_still_runs_the_rollbacks_and_fails(tmp_path: Path, toy: Toy) -> None:
    marker = tmp_path / "rolled-back"
    config = experiment(
        tmp_path,
        toy,
        "outage",
        f"""
    method:
      - {{name: say and fail, action: command, argv: [sh, -c, "echo about to fail; exit 3"]}}
      - {{name: never, action: command, argv: ["true"]}}
    rollbacks:
      - {{name: undo, action: command, argv: [touch, "{marker}"]}}
""",
    )
    journal = await run_experiment(config, "outage")
    assert journal.status is ExperimentStatus.FAILED
    assert marker.exists()
    failed, skipped = journal.phase(Phase.METHOD)
    assert failed.status is StepStatus.FAILED
    assert skipped.status is StepStatus.SKIPPED
    assert "exit 3, expected [0]" in failed.output
    assert "about to fail" in failed.output
    assert failed.detail["exit_code"] == 3
    assert statuses(journal.steps, Phase.ROLLBACKS) == [StepStatus.OK]
    assert "say and fail" in journal.summary
    assert "the rollbacks ran" in journal.summary


async def test_a_probe_that_does_not_hold_deviates_and_rolls_back(tmp_path: Path, toy: Toy) -> None:
    config = experiment(
        tmp_path,
        toy,
        "outage",
        f"""
    method:
      - {{name: ready turns 503, probe: http, url: "{toy.url}/ready", expect_status: 503, within: 300ms, poll: 100ms}}
    rollbacks:
      - {{name: nothing, action: sleep, duration: 1ms}}
""",
    )
    journal = await run_experiment(config, "outage")
    assert journal.status is ExperimentStatus.DEVIATED
    (probe,) = journal.phase(Phase.METHOD)
    assert probe.held_after_seconds is None
    assert probe.attempts is not None
    assert probe.attempts >= 2
    assert probe.output.startswith("did not hold within 300ms")
    assert statuses(journal.steps, Phase.ROLLBACKS) == [StepStatus.OK]


async def test_recovery_slower_than_its_target_deviates_with_the_figure(tmp_path: Path, toy: Toy) -> None:
    rollbacks = f"""
      - name: fix readiness
        action: http
        url: {toy.url}/admin/fix
        headers: {{Authorization: "Bearer ${{ADMIN_TOKEN}}"}}
      - {{name: slow restart, action: sleep, duration: 300ms}}
"""
    config = write_config(tmp_path, outage_yaml(toy, target="100ms", rollbacks=rollbacks), ENV)
    journal = await run_experiment(config, "outage")
    assert journal.status is ExperimentStatus.DEVIATED
    assert journal.recovery_seconds is not None
    assert journal.recovery_seconds >= 0.3
    assert f"recovery took {journal.recovery_seconds:.1f}s, more than its target of 100ms" in journal.findings
    assert "deviated" in journal.summary
    obs = journal.observation()
    assert obs.failures
    assert {m.name for m in obs.measurements} >= {"recovery_seconds", "recovery_target_seconds"}


async def test_a_service_that_never_recovers_is_reported(tmp_path: Path, toy: Toy) -> None:
    toy.fix_works = False  # the rollback is accepted but the service stays down
    config = write_config(tmp_path, outage_yaml(toy, target="100ms"), ENV)
    journal = await run_experiment(config, "outage")
    assert journal.status is ExperimentStatus.DEVIATED
    assert journal.recovery_seconds is None
    assert journal.findings[0].startswith("did not recover: /ready answers 200")
    assert statuses(journal.steps, Phase.STEADY_STATE_AFTER) == [StepStatus.FAILED]


async def test_secrets_never_reach_the_journal(tmp_path: Path, toy: Toy) -> None:
    api_token = "tok-very-secret-0042"
    yaml = outage_yaml(toy).replace(
        "    rollbacks:",
        """      - name: echo a secret
        action: command
        argv: [sh, -c, "echo token=$API_TOKEN auth=Bearer $ADMIN"]
        env: {API_TOKEN: "${API_TOKEN}", ADMIN: "${ADMIN_TOKEN}"}
    rollbacks:""",
    )
    config = write_config(tmp_path, yaml, {**ENV, "API_TOKEN": api_token})
    journal = await run_experiment(config, "outage")
    assert journal.status is ExperimentStatus.COMPLETED, journal.findings
    echo = journal.phase(Phase.METHOD)[3]
    assert echo.output.startswith(f"exit 0; token={MASK} auth=")
    assert echo.output.count(MASK) == 2
    assert toy.admin_calls == ["/admin/break", "/admin/fix"]  # the token was sent
    assert journal.journal_file is not None
    for text in (
        journal.model_dump_json(),
        Path(journal.journal_file).read_text(),
        json.dumps(journal.observation().detail),
    ):
        assert ADMIN_TOKEN not in text
        assert api_token not in text


async def test_ctrl_c_during_the_method_still_runs_the_rollbacks(tmp_path: Path, toy: Toy) -> None:
    marker = tmp_path / "rolled-back"
    config = experiment(
        tmp_path,
        toy,
        "outage",
        f"""
    method:
      - {{name: wait, action: sleep, duration: 60s}}
      - {{name: never, action: command, argv: ["true"]}}
    rollbacks:
      - {{name: undo, action: command, argv: [touch, "{marker}"]}}
""",
    )
    started = asyncio.Event()

    def progress(step: StepRecord) -> None:
        if step.name == "wait" and step.status is StepStatus.RUNNING:
            started.set()

    task = asyncio.create_task(run_experiment(config, "outage", progress=progress))
    await started.wait()
    task.cancel()  # what asyncio.run does on Ctrl-C
    journal = await task
    assert journal.status is ExperimentStatus.INTERRUPTED
    assert marker.exists()
    assert statuses(journal.steps, Phase.METHOD) == [StepStatus.INTERRUPTED, StepStatus.SKIPPED]
    assert statuses(journal.steps, Phase.ROLLBACKS) == [StepStatus.OK]


async def test_processes_are_started_and_stopped_by_pid_file_and_command_line(
    tmp_path: Path, toy: Toy
) -> None:
    pid_file = tmp_path / "sleep.pid"
    odd = "61.25"  # a command line no other process has
    config = experiment(
        tmp_path,
        toy,
        "processes",
        f"""
    method:
      - {{name: start, action: process, operation: start, argv: [sleep, "60"], pid_file: "{pid_file}"}}
      - {{name: running, probe: command, argv: [sh, -c, 'kill -0 "$(cat {pid_file})"']}}
      - {{name: stop, action: process, operation: stop, pid_file: "{pid_file}", grace: 5s}}
      - name: gone
        probe: command
        argv: [sh, -c, 'kill -0 "$(cat {pid_file})"']
        expect_exit: 1
      - {{name: start another, action: process, operation: start, argv: [sleep, "{odd}"]}}
      - {{name: stop it by its command line, action: process, operation: stop, command_line: [sleep, "{odd}"]}}
      - {{name: nothing left to stop, action: process, operation: stop, command_line: [sleep, "{odd}"]}}
""",
    )
    journal = await run_experiment(config, "processes")
    steps = journal.phase(Phase.METHOD)
    assert [s.status for s in steps] == [StepStatus.OK] * 6 + [StepStatus.FAILED], [s.output for s in steps]
    pid = int(pid_file.read_text())
    assert steps[0].detail["pid"] == pid
    assert not alive(pid)
    second = steps[4].detail["pid"]
    assert isinstance(second, int)
    assert not alive(second)
    assert steps[5].detail["pids"] == [second]
    assert "nothing to stop" in steps[6].output
    assert journal.status is ExperimentStatus.FAILED


async def test_a_process_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path, toy: Toy) -> None:
    pid_file = tmp_path / "stubborn.pid"
    script = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    log_file = tmp_path / "stubborn.log"
    config = experiment(
        tmp_path,
        toy,
        "stubborn",
        f"""
    method:
      - name: start
        action: process
        operation: start
        argv: ["{sys.executable}", -c, "{script}"]
        pid_file: "{pid_file}"
        log_file: "{log_file}"
      - {{name: wait until it ignores SIGTERM, probe: command, argv: [grep, -q, up, "{log_file}"], within: 10s, poll: 50ms}}
      - {{name: stop, action: process, operation: stop, pid_file: "{pid_file}", grace: 200ms}}
""",
    )
    journal = await run_experiment(config, "stubborn")
    assert journal.status is ExperimentStatus.COMPLETED, [s.output for s in journal.steps]
    stop = journal.phase(Phase.METHOD)[2]
    pid = int(pid_file.read_text())
    assert stop.detail["killed"] == [pid]
    assert "ignored SIGTERM" in stop.output
    assert not alive(pid)


async def test_a_command_that_outlives_its_timeout_is_killed(tmp_path: Path, toy: Toy) -> None:
    config = experiment(
        tmp_path,
        toy,
        "slow",
        """
    method:
      - {name: hang, action: command, argv: [sh, -c, "echo started; sleep 60"], timeout: 300ms}
""",
    )
    journal = await run_experiment(config, "slow")
    (step,) = journal.phase(Phase.METHOD)
    assert step.status is StepStatus.FAILED
    assert step.output.startswith("killed after 0.3s (timeout)")
    assert "started" in step.output
    assert step.detail["exit_code"] is None
    assert os.environ.get("API_TOKEN") is None  # nothing leaked into the test's own environment
