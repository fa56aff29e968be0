"""Running a dump tool: stdout streamed in chunks, stderr kept for the error message, secrets in env.

Passwords go to the tool through its environment (``PGPASSWORD``, ``MYSQL_PWD``), never its argv,
which any local user can read in ``ps``. stderr goes to a temporary file (not a pipe) so a chatty tool
cannot deadlock against a full pipe while we read stdout. If the reader stops early (an error further
down the pipeline, or the generator is closed) the tool is killed.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence

from flightdeck.backups.errors import BackupError
from flightdeck.datasources import DatabaseUrl

__all__ = ["READ_SIZE", "run_version", "stream_command"]

READ_SIZE = 1 << 20


def run_version(argv: Sequence[str]) -> str:
    """First line of ``tool --version``; BackupError when the tool is missing."""
    try:
        done = subprocess.run(  # noqa: S603 - a fixed tool name, no shell
            list(argv), capture_output=True, text=True, timeout=30, check=False
        )
    except FileNotFoundError:
        raise BackupError(f"{argv[0]} is not installed (not found on PATH)") from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackupError(f"{argv[0]} --version failed: {exc}") from None
    out = (done.stdout or done.stderr).strip()
    return out.splitlines()[0] if out else "unknown"


def _tail(text: str, url: DatabaseUrl) -> str:
    lines = [line for line in url.clean(text).strip().splitlines() if line.strip()]
    return " | ".join(lines[-3:]) if lines else "no message"


def stream_command(argv: Sequence[str], env: Mapping[str, str], url: DatabaseUrl) -> Iterator[bytes]:
    """Yield the tool's stdout; raise BackupError (password-free) when it exits non-zero."""
    tool = os.path.basename(argv[0])
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(  # noqa: S603 - fixed tool, no shell
                list(argv),
                stdout=subprocess.PIPE,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **env},
            )
        except FileNotFoundError:
            raise BackupError(f"{tool} is not installed (not found on PATH)") from None
        assert proc.stdout is not None
        finished = False
        try:
            while chunk := proc.stdout.read(READ_SIZE):
                yield chunk
            rc = proc.wait()
            finished = True
        finally:
            if not finished:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        if rc != 0:
            err.seek(0)
            message = _tail(err.read().decode("utf-8", "replace"), url)
            raise BackupError(f"{tool} failed (exit {rc}): {message}")
