"""What an experiment's actions do: run a command, stop or start a process, restore a backup, send
an HTTP request, sleep. Each returns an :class:`~flightdeck.experiments.context.Outcome`; nothing a
target does raises out of here (only cancellation propagates)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

from flightdeck.config.experiments import (
    CommandAction,
    HttpAction,
    ProcessAction,
    ProcessOperation,
    RestoreAction,
    SleepAction,
)
from flightdeck.config.types import format_duration
from flightdeck.errors import CheckError, FlightdeckError
from flightdeck.experiments.context import Outcome, RunContext
from flightdeck.experiments.processes import (
    alive,
    find_by_command_line,
    read_pid_file,
    run_command,
    start_detached,
    stop_processes,
)

__all__ = ["ACTIONS", "run_action", "send_request", "timed_command"]


async def timed_command(
    ctx: RunContext, argv: list[str], env: dict[str, str], cwd: Any, seconds: float, expect: list[int]
) -> Outcome:
    """Run a command for at most ``seconds``; ok when its exit code is one of ``expect``. The end of
    its output is kept."""
    result = await run_command(argv, env=env, cwd=cwd, seconds=seconds)
    ok = result.exit_code is not None and result.exit_code in expect
    head = result.error or f"exit {result.exit_code}" + ("" if ok else f", expected {expect}")
    return Outcome(ok, ctx.clean_all([head, result.output]), {"exit_code": result.exit_code})


async def _command(step: CommandAction, ctx: RunContext) -> Outcome:
    return await timed_command(ctx, step.argv, step.env, step.cwd, step.timeout, step.expect_exit)


async def _process(step: ProcessAction, ctx: RunContext) -> Outcome:
    if step.operation is ProcessOperation.START:
        assert step.argv is not None
        try:
            proc = start_detached(step.argv, env=step.env, cwd=step.cwd, log_file=step.log_file)
        except OSError as exc:
            return Outcome(False, ctx.clean(f"cannot start {step.argv[0]}: {exc.strerror or exc}"))
        if step.pid_file is not None:
            tmp = step.pid_file.with_name(f".{step.pid_file.name}.tmp")
            tmp.write_text(f"{proc.pid}\n", encoding="utf-8")
            os.replace(tmp, step.pid_file)
        await ctx.clock.sleep(0.2)  # a program that cannot start usually says so at once
        code = proc.poll()
        if code is not None and code != 0:
            return Outcome(False, f"pid {proc.pid} exited at once with code {code}", {"pid": proc.pid})
        return Outcome(True, f"started pid {proc.pid}", {"pid": proc.pid})
    if step.pid_file is not None:
        try:
            pids = [read_pid_file(step.pid_file)]
        except ValueError as exc:
            return Outcome(False, ctx.clean(str(exc)))
        pids = [p for p in pids if alive(p)]
        where = f"pid file {step.pid_file}"
    else:
        assert step.command_line is not None
        pids = find_by_command_line(step.command_line)
        where = f"command line {' '.join(step.command_line)!r}"
    if not pids:
        return Outcome(False, ctx.clean(f"no running process for {where}: nothing to stop"))
    try:
        _, killed = await stop_processes(pids, step.grace, ctx.clock)
    except PermissionError:
        return Outcome(False, ctx.clean(f"not allowed to signal the process(es) of {where}: {pids}"))
    still = [p for p in killed if alive(p)]
    text = f"stopped {len(pids)} process(es) {pids}"
    if killed:
        text += f"; {killed} ignored SIGTERM for {format_duration(step.grace)} and were killed"
    if still:
        return Outcome(False, f"{text}; {still} still running after SIGKILL", {"pids": list(pids)})
    return Outcome(True, text, {"pids": list(pids), "killed": list(killed)})


def _restore_sync(step: RestoreAction, ctx: RunContext) -> Outcome:
    from flightdeck.backups.catalog import find_backup, list_backups
    from flightdeck.backups.restore import restore_backup
    from flightdeck.backups.run import open_storage, run_backup
    from flightdeck.datasources import DatabaseUrl

    config = ctx.config
    cfg = config.backups[step.backup]
    storage = open_storage(cfg)
    if step.backup_id is not None:
        manifest = find_backup(storage, step.backup, step.backup_id)
    else:
        found = list_backups(storage, step.backup)
        if not found:
            return Outcome(False, f"no complete backup of {step.backup!r} in {storage.describe()}")
        manifest = found[0]
    key = cfg.encryption_key
    try:
        target = DatabaseUrl.parse(step.to)
    except ValueError as exc:
        return Outcome(False, ctx.clean(f"to: {exc}"))
    safety: Callable[[], str | None] | None = None
    if step.safety_backup is not None:
        name = step.safety_backup
        safety_cfg = config.backups[name]
        source = config.datasources[safety_cfg.datasource]
        safety = lambda: run_backup(name, safety_cfg, source).manifest.backup_id  # noqa: E731
    result = restore_backup(
        storage,
        manifest,
        key,
        target,
        force=step.force,
        confirm_name=step.confirm_name,
        safety_backup=safety,
        jobs=step.jobs,
    )
    obs = result.observation()
    return Outcome(result.ok, ctx.clean_all([obs.summary, *obs.failures]), {"backup_id": result.backup_id})


async def _restore(step: RestoreAction, ctx: RunContext) -> Outcome:
    # The restore is blocking work (tools, files); it runs in a thread and cannot be cut short.
    try:
        return await asyncio.to_thread(_restore_sync, step, ctx)
    except FlightdeckError as exc:  # refused (looks like production), integrity, decryption, tools
        return Outcome(False, ctx.clean(str(exc)))


async def send_request(step: Any, ctx: RunContext) -> Outcome:
    """Send an HTTP step's request as the ``http`` check does; ok when every expectation holds."""
    from flightdeck.checks.http import HttpCheck

    check = HttpCheck(step.http_spec(step.name), ctx.experiment.service, ctx.checks_context)
    try:
        async with asyncio.timeout(step.timeout):
            obs = await check.observe(None)
    except TimeoutError:
        return Outcome(False, f"no response within {format_duration(step.timeout)}")
    except CheckError as exc:
        return Outcome(False, ctx.clean(exc.reason))
    status = next((m.value for m in obs.measurements if m.name == "status_code"), None)
    detail: dict[str, Any] = {"status": int(status) if status is not None else None}
    return Outcome(not obs.failures, ctx.clean_all([obs.summary, *obs.failures]), detail)


async def _http(step: HttpAction, ctx: RunContext) -> Outcome:
    return await send_request(step, ctx)


async def _sleep(step: SleepAction, ctx: RunContext) -> Outcome:
    await ctx.clock.sleep(step.duration)
    return Outcome(True, f"slept {format_duration(step.duration)}")


ACTIONS: dict[type[Any], Callable[[Any, RunContext], Awaitable[Outcome]]] = {
    CommandAction: _command,
    ProcessAction: _process,
    RestoreAction: _restore,
    HttpAction: _http,
    SleepAction: _sleep,
}


async def run_action(step: Any, ctx: RunContext) -> Outcome:
    return await ACTIONS[type(step)](step, ctx)
