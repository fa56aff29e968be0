"""The demo service as a separate process: spawn it, find it by its pid file, stop it.

A pid is trusted only while the process it names is alive, not a zombie, and (where ``/proc``
exists) still runs the demo service; a stale pid file is ignored, never acted on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["SERVICE_MODULE", "pid_alive", "read_pid", "spawn_service", "terminate"]

SERVICE_MODULE = "flightdeck.demo.service"


def read_pid(pid_file: Path) -> int | None:
    try:
        text = pid_file.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _reap(pid: int) -> None:
    # Our own child that exited stays a zombie until waited for; waiting for another
    # process's child raises ChildProcessError, which is fine.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def pid_alive(pid: int, marker: str | None = SERVICE_MODULE) -> bool:
    """Whether ``pid`` is a live process (and, with ``marker``, one whose command line has it)."""
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, someone else's: then it cannot be ours, but it is not gone either
    proc = Path(f"/proc/{pid}")
    if proc.is_dir():
        try:
            stat = (proc / "stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                return False
            if marker is not None and marker not in (proc / "cmdline").read_bytes().decode(errors="replace"):
                return False
        except (OSError, IndexError):
            return False
    return True


def spawn_service(args: list[str], log_file: Path, pid_file: Path) -> subprocess.Popen[bytes]:
    """Start ``python -m flightdeck.demo.service ARGS`` in its own session (so a Ctrl-C meant for
    the terminal's foreground job does not reach it), output to ``log_file``; write ``pid_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module, fixed arguments
            [sys.executable, "-m", SERVICE_MODULE, *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    pid_file.write_text(f"{proc.pid}\n", encoding="ascii")
    return proc


def terminate(pid: int, timeout: float = 10.0, marker: str | None = SERVICE_MODULE) -> bool:
    """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL. True when the process is gone."""
    if not pid_alive(pid, marker):
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid, None):
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not pid_alive(pid, None):
            return True
        time.sleep(0.05)
    return False
