"""Fixtures for the scheduler's multi-process tests: a fresh PostgreSQL database, a recording
HTTP target, and flightdeck subprocesses with the test check kinds registered."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.engine.target import RecordingTarget

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_pg_url(pg_admin_url: str) -> Iterator[str]:
    """An empty PostgreSQL database of its own (processes migrate it themselves)."""
    name = f"flightdeck_sched_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        pg_admin_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def target() -> Iterator[RecordingTarget]:
    t = RecordingTarget().start()
    yield t
    t.release()
    t.close()


class Procs:
    """flightdeck subprocesses started by a test; any still running at the end are killed."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.started: list[subprocess.Popen[str]] = []

    def start(self, *args: str, name: str = "proc", new_session: bool = False) -> subprocess.Popen[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLIGHTDECK_")}
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        env["PYTHONUNBUFFERED"] = "1"
        log = open(self.tmp / f"{name}-{len(self.started)}.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.engine.fdproc", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=new_session,  # its own process group, as a terminal's foreground job
        )
        self.started.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.tmp.glob("*.log")))

    def cleanup(self) -> None:
        for p in self.started:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait(10)
            if p.stdout is not None:
                p.stdout.close()


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    p = Procs(tmp_path)
    yield p
    p.cleanup()
