"""Running programs for experiments: a command run to completion (no shell, with a timeout), a
process started detached, and stopping processes by pid file or exact command line.

Stopping is SIGTERM, then SIGKILL once the grace period passed. Finding processes by command line
reads ``/proc`` (Linux).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from flightdeck.clock import Clock

__all__ = [
    "CommandResult",
    "alive",
    "find_by_command_line",
    "read_pid_file",
    "run_command",
    "start_detached",
    "stop_processes",
]

_READ_LIMIT = 1_000_000  # bytes of a command's output kept in memory; the journal keeps its end


@dataclass(frozen=True)
class CommandResult:
    exit_code: int | None  # None: killed after the timeout, or it could not be started
    output: str  # stdout and stderr, interleaved
    error: str = ""  # why it could not be started, or that it timed out


def _environment(env: Mapping[str, str]) -> dict[str, str]:
    return {**os.environ, **env}


async def _read(stream: asyncio.StreamReader) -> bytes:
    kept = bytearray()
    while chunk := await stream.read(65536):
        kept += chunk
        if len(kept) > _READ_LIMIT:
            del kept[: len(kept) - _READ_LIMIT]
    return bytes(kept)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def run_command(
    argv: Sequence[str], *, env: Mapping[str, str], cwd: Path | None, seconds: float
) -> CommandResult:
    """Run ``argv`` to completion in its own process group; kill the group after ``seconds`` or when
    cancelled."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=_environment(env),
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as exc:
        return CommandResult(None, "", f"cannot run {argv[0]}: {exc.strerror or exc}")
    assert proc.stdout is not None
    reader = asyncio.ensure_future(_read(proc.stdout))
    try:
        async with asyncio.timeout(seconds):
            await proc.wait()
            output = await reader
    except TimeoutError:
        _kill_group(proc.pid)
        await proc.wait()
        output = await reader
        text = output.decode("utf-8", errors="replace")
        return CommandResult(None, text, f"killed after {seconds:g}s (timeout)")
    except BaseException:
        _kill_group(proc.pid)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        reader.cancel()
        raise
    return CommandResult(proc.returncode, output.decode("utf-8", errors="replace"))


def start_detached(
    argv: Sequence[str], *, env: Mapping[str, str], cwd: Path | None, log_file: Path | None
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a session of its own, not waited for; its output goes to ``log_file``
    (appended) or nowhere. Raises ``OSError`` when it cannot be started."""
    out = open(log_file, "ab") if log_file is not None else subprocess.DEVNULL  # noqa: SIM115
    try:
        return subprocess.Popen(  # noqa: S603 - an argv list from the configuration, no shell
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_environment(env),
            cwd=cwd,
            start_new_session=True,
        )
    finally:
        if not isinstance(out, int):
            out.close()


def read_pid_file(path: Path) -> int:
    """The pid in ``path``; ``ValueError`` (with the reason) when there is none."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"cannot read pid file {path}: {exc.strerror or exc}") from None
    if not text.isdigit() or int(text) <= 1:
        raise ValueError(f"pid file {path} does not hold a process id (got {text[:20]!r})")
    return int(text)


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie is not; one of ours is reaped)."""
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust the signal
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def find_by_command_line(command_line: Sequence[str]) -> list[int]:
    """Pids of the processes whose command line is exactly ``command_line`` (read from ``/proc``)."""
    wanted = [os.fsencode(part) for part in command_line]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if raw and raw.rstrip(b"\0").split(b"\0") == wanted:
            found.append(int(entry.name))
    return sorted(found)


async def stop_processes(pids: Sequence[int], grace: float, clock: Clock) -> tuple[list[int], list[int]]:
    """SIGTERM each pid; SIGKILL those still alive after ``grace`` seconds. Returns (stopped by
    SIGTERM, killed); raises ``PermissionError`` when a signal is not allowed."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    waited = 0.0
    step = min(0.1, grace)
    while any(alive(p) for p in pids) and waited < grace:
        await clock.sleep(step)
        waited += step
    killed = [p for p in pids if alive(p)]
    for pid in killed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for _ in range(50):
        if not any(alive(p) for p in killed):
            break
        await clock.sleep(0.1)
    return [p for p in pids if p not in killed], killed
