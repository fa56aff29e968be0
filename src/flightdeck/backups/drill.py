"""A disaster-recovery drill: restore the newest backup into a scratch database, check it the way the
application would, measure RTO per phase and RPO, and drop the scratch database.

:func:`run_drill` runs these steps, each timed and recorded as a :class:`DrillStep`; a step that fails
stops the ones after it, except that the scratch database is always dropped:

1. **select backup** — the newest complete backup of ``drills.NAME.backup`` (or the one asked for);
2. **fetch and verify checksum** (phase *fetch*) — every artifact copied from storage into a private
   temporary directory while its size and SHA-256 are compared with the manifest;
3. **decrypt and decompress** (phase *decode*) — only what was verified is decoded; a PostgreSQL
   directory archive is unpacked;
4. **create scratch database** and **restore into scratch** (phase *restore*) — a database named
   ``fd_drill_<random>`` on the ``scratch`` server (a file in the ``scratch`` directory for SQLite),
   loaded with the same tools ``flightdeck restore`` uses;
5. **verify** (phase *verify*) — schema objects, row counts, ordered row hashes, invariants
   (:mod:`flightdeck.backups.drill_checks`), then RPO from the declared column;
6. **drop scratch database** (unless ``keep_scratch``).

RTO is the sum of the four phases; the drill passes when every step and verification passed, RTO is
within ``rto_target`` and, when set, RPO within ``rpo_target``. Whatever happens, a
:class:`DrillResult` comes back — a drill that could not even find a backup is a failed drill with the
reason, never an exception — so every drill leaves a record and a report.

The drill is blocking work (tools, large files); the check kind runs it in a thread. ``cancel`` is
checked between steps, and Ctrl-C interrupts the running step: either way the drill stops, drops its
scratch database, and comes back as a failed drill saying so.
"""

from __future__ import annotations

import getpass
import logging
import secrets
import shutil
import socket
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flightdeck.backups.catalog import find_backup, list_backups
from flightdeck.backups.drill_checks import (
    newest_change,
    verify_counts,
    verify_hashes,
    verify_invariant,
    verify_schema,
)
from flightdeck.backups.drill_result import (
    DRILL_DETAIL_KEY,
    DrillResult,
    DrillStep,
    Phase,
    StepStatus,
    Verification,
)
from flightdeck.backups.engines.process import run_version
from flightdeck.backups.errors import BackupError
from flightdeck.backups.manifest import EngineKind, Manifest
from flightdeck.backups.restore import decode_into
from flightdeck.backups.restore_target import (
    connect,
    count_rows,
    drop_database,
    ensure_database,
    inspect_target,
    load_dump,
)
from flightdeck.backups.run import open_storage
from flightdeck.backups.storage.base import Storage
from flightdeck.backups.verify import decode_chunks, fetch_artifact, file_chunks
from flightdeck.checks.base import Observation
from flightdeck.clock import Clock, SystemClock
from flightdeck.config.base import pick
from flightdeck.config.drills import DrillConfig
from flightdeck.config.models import Config
from flightdeck.datasources import DatabaseUrl, Dialect
from flightdeck.errors import FlightdeckError
from flightdeck.evidence import Artifact

__all__ = ["StepProgress", "current_operator", "drill_observation", "run_drill", "scratch_url"]

log = logging.getLogger(__name__)

StepProgress = Callable[[str, StepStatus | None], None]
"""Called with a step's name when it starts (status ``None``) and again when it ends."""

_RESTORE_TOOLS = {
    EngineKind.POSTGRES: ["pg_restore", "--version"],
    EngineKind.MYSQL: ["mariadb", "--version"],
}


class _StepFailed(Exception):
    """A step failed; the drill stops (the failure is already recorded)."""


def current_operator() -> str:
    """``user@host`` of whoever runs the command."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def scratch_url(cfg: DrillConfig, source: DatabaseUrl) -> DatabaseUrl:
    """Where this drill restores: a new ``fd_drill_<random>`` database on the scratch server, or a new
    file in the scratch directory for SQLite. The name holds no word that looks like production."""
    name = f"fd_drill_{secrets.token_hex(4)}"
    if source.dialect is Dialect.SQLITE:
        folder = Path(cfg.scratch.reveal()) if cfg.scratch is not None else Path(tempfile.gettempdir())
        return DatabaseUrl.parse(f"sqlite:///{folder.expanduser().resolve() / (name + '.sqlite')}")
    if cfg.scratch is None:
        raise BackupError(f"a {source.dialect.value} drill needs scratch: a URL on the scratch server")
    return DatabaseUrl.parse(cfg.scratch).with_database(name)


@dataclass
class _Drill:
    """The state of one drill while it runs."""

    name: str
    cfg: DrillConfig
    clock: Clock
    progress: StepProgress | None
    cancel: threading.Event | None
    steps: list[DrillStep] = field(default_factory=list)
    phases: dict[Phase, float] = field(default_factory=dict)
    verifications: list[Verification] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @contextmanager
    def step(self, name: str, phase: Phase | None = None) -> Iterator[list[str]]:
        """Time a step; the yielded list collects its message. An exception fails the step (and the
        drill, via :class:`_StepFailed`)."""
        if self.cancel is not None and self.cancel.is_set():
            self.failures.append("the drill was cancelled before it finished")
            raise _StepFailed from None
        if self.progress is not None:
            self.progress(name, None)
        started, t0 = self.clock.now(), self.clock.monotonic()
        notes: list[str] = []
        status = StepStatus.PASSED
        try:
            yield notes
        except _StepFailed:
            status = StepStatus.FAILED
            raise
        except (FlightdeckError, OSError, tarfile.TarError) as exc:
            status = StepStatus.FAILED
            reason = str(exc).strip() or type(exc).__name__
            notes.append(reason)
            self.failures.append(f"{name}: {reason}")
            raise _StepFailed from None
        except BaseException:
            status = StepStatus.FAILED
            notes.append("interrupted")
            self.failures.append(f"{name}: interrupted")
            raise
        finally:
            seconds = self.clock.monotonic() - t0
            if phase is not None:
                self.phases[phase] = self.phases.get(phase, 0.0) + seconds
            self.steps.append(
                DrillStep(
                    name=name,
                    phase=phase,
                    status=status,
                    started_at=started,
                    finished_at=self.clock.now(),
                    seconds=seconds,
                    message="; ".join(notes),
                )
            )
            if self.progress is not None:
                self.progress(name, status)

    def verified(self, checks: list[Verification]) -> None:
        self.verifications.extend(checks)
        for v in checks:
            if v.status is StepStatus.FAILED:
                detail = f" ({v.message})" if v.message else ""
                self.failures.append(
                    f"{v.kind.value.replace('_', ' ')} — {v.name}: expected {v.expected}, "
                    f"found {v.actual}{detail}"
                )


def _select(storage: Storage, backup_name: str, backup_id: str | None) -> Manifest:
    if backup_id is not None:
        return find_backup(storage, backup_name, backup_id)
    found = list_backups(storage, backup_name)
    if not found:
        raise BackupError(f"no complete backup of {backup_name!r} in {storage.describe()}")
    return found[0]


def _fetch(storage: Storage, manifest: Manifest, workdir: Path) -> dict[str, Path]:
    spools = {}
    for artifact in manifest.artifacts:
        path = workdir / f"{artifact.name}.stored"
        with open(path, "wb") as fh:
            fetch_artifact(storage, artifact, fh)
        spools[artifact.name] = path
    return spools


def _decode(manifest: Manifest, spools: dict[str, Path], key: bytes | None, workdir: Path) -> Path:
    decoded: dict[str, Path] = {}
    for artifact in manifest.artifacts:
        with open(spools[artifact.name], "rb") as src:
            verified = decode_chunks(artifact, file_chunks(src), key)
            decoded[artifact.name] = decode_into(artifact, verified, workdir)
        spools[artifact.name].unlink()
    return decoded[manifest.artifact("data").name]


def _tool_versions(manifest: Manifest) -> dict[str, str]:
    versions = {f"backup: {k}": v for k, v in manifest.tool_versions.items()}
    argv = _RESTORE_TOOLS.get(manifest.engine)
    if argv is not None:
        try:
            versions[f"restore: {argv[0]}"] = run_version(argv)
        except BackupError:
            versions[f"restore: {argv[0]}"] = "not found"
    else:
        import sqlite3

        versions["restore: sqlite"] = sqlite3.sqlite_version
    return versions


def _verify(run: _Drill, manifest: Manifest, scratch: DatabaseUrl) -> datetime | None:
    """The verify phase, over one connection to the scratch database; returns the newest change (RPO)."""
    cfg = run.cfg
    newest: datetime | None = None
    with ExitStack() as stack:
        with run.step("verify schema and rows", Phase.VERIFY) as notes:
            conn = stack.enter_context(connect(scratch))
            checks: list[Verification] = []
            if cfg.verify_schema:
                checks.append(verify_schema(conn, scratch.dialect, manifest))
            checks += verify_hashes(conn, scratch.dialect, manifest)
            checks += verify_counts(count_rows(scratch, manifest.table_counts), manifest)
            run.verified(checks)
            failed = sum(1 for v in checks if v.status is StepStatus.FAILED)
            notes.append(f"{len(checks)} checks, {failed} failed")
        if cfg.invariants:
            with run.step("verify invariants", Phase.VERIFY) as notes:
                results = [verify_invariant(conn, inv) for inv in cfg.invariants]
                conn.rollback()
                run.verified(results)
                failed = sum(1 for v in results if v.status is StepStatus.FAILED)
                notes.append(f"{len(results)} invariants, {failed} failed")
        if cfg.rpo is not None:
            with run.step("measure RPO", Phase.VERIFY) as notes:
                newest = newest_change(conn, scratch.dialect, cfg.rpo)
                if newest is None:
                    raise BackupError(f"rpo: {cfg.rpo.table} is empty in the restored copy")
                notes.append(f"newest {cfg.rpo.table}.{cfg.rpo.column}: {newest:%Y-%m-%d %H:%M:%S} UTC")
    return newest


def run_drill(
    config: Config,
    name: str,
    *,
    clock: Clock | None = None,
    backup_id: str | None = None,
    operator: str = "scheduler",
    trigger: str = "schedule",
    keep_scratch: bool | None = None,
    progress: StepProgress | None = None,
    cancel: threading.Event | None = None,
) -> DrillResult:
    """Run the drill ``drills.NAME`` (see the module docstring). Raises only for an unknown name."""
    cfg = pick(config.drills, name, "drill", "drills")
    bcfg = pick(config.backups, cfg.backup, "backup", "backups")
    clock = clock or SystemClock()
    run = _Drill(name, cfg, clock, progress, cancel)
    started = clock.now()
    keep = cfg.keep_scratch if keep_scratch is None else keep_scratch
    facts: dict[str, object] = {}
    manifest: Manifest | None = None
    storage: Storage | None = None
    scratch: DatabaseUrl | None = None
    created = False
    newest: datetime | None = None
    rpo: float | None = None
    workdir = Path(tempfile.mkdtemp(prefix="flightdeck-drill-"))
    try:
        with run.step("select backup") as notes:
            storage = open_storage(bcfg)
            manifest = _select(storage, cfg.backup, backup_id)
            notes.append(
                f"backup {manifest.backup_id}, finished {manifest.finished_at:%Y-%m-%d %H:%M:%S} UTC"
            )
        source = DatabaseUrl.parse(config.datasources[bcfg.datasource].url)
        key = bcfg.encryption_key
        with run.step("fetch and verify checksum", Phase.FETCH) as notes:
            spools = _fetch(storage, manifest, workdir)
            total = sum(a.size_bytes for a in manifest.artifacts)
            notes.append(f"{len(spools)} artifact(s), {total} bytes, SHA-256 as in the manifest")
        with run.step("decrypt and decompress", Phase.DECODE) as notes:
            dump = _decode(manifest, spools, key, workdir)
            raw = sum(a.raw_size_bytes for a in manifest.artifacts)
            notes.append(f"{raw} bytes decoded" + (" (AES-256-GCM authenticated)" if key else ""))
        with run.step("create scratch database", Phase.RESTORE) as notes:
            scratch = scratch_url(cfg, source)
            if inspect_target(scratch).exists:
                raise BackupError(f"{scratch.describe()} already exists; not touching it")
            ensure_database(scratch)
            created = True
            notes.append(scratch.describe())
        with run.step("restore into scratch", Phase.RESTORE) as notes:
            load_dump(scratch, dump, jobs=cfg.jobs)
            shutil.rmtree(workdir, ignore_errors=True)
            notes.append(f"{manifest.engine.value} dump loaded")
        newest = _verify(run, manifest, scratch)
        if newest is not None:
            rpo = (clock.now() - newest).total_seconds()
    except _StepFailed:
        pass
    except KeyboardInterrupt:  # Ctrl-C: the drill stops, cleans up and is recorded as failed
        run.failures.append("the drill was interrupted (Ctrl-C) before it finished")
    finally:
        if scratch is not None and created and not keep:
            try:
                with run.step("drop scratch database") as notes:
                    drop_database(scratch)
                    notes.append(scratch.describe())
            except _StepFailed:
                pass
        shutil.rmtree(workdir, ignore_errors=True)
    if manifest is not None:
        facts = {
            "backup_id": manifest.backup_id,
            "backup_sha256": manifest.artifact("data").sha256,
            "backup_started_at": manifest.started_at,
            "backup_finished_at": manifest.finished_at,
            "manifest": manifest.model_dump(mode="json"),
            "engine": manifest.engine.value,
            "source": manifest.source,
            "tool_versions": _tool_versions(manifest),
        }
    restored = all(p in run.phases for p in Phase) and not any(
        s.status is StepStatus.FAILED and s.phase is not None for s in run.steps
    )
    rto = sum(run.phases.values()) if restored else None
    if rto is not None and rto > cfg.rto_target:
        run.failures.append(f"RTO {rto:.1f} s is over the {cfg.rto_target:g} s target")
    if rpo is not None and cfg.rpo_target is not None and rpo > cfg.rpo_target:
        run.failures.append(f"RPO {rpo:.1f} s is over the {cfg.rpo_target:g} s target")
    return DrillResult(
        drill=name,
        service=bcfg.service,
        backup_name=cfg.backup,
        scratch=scratch.describe() if scratch is not None else None,
        storage=storage.describe() if storage is not None else None,
        operator=operator,
        trigger=trigger,
        started_at=started,
        finished_at=clock.now(),
        steps=run.steps,
        phases=run.phases,
        rto_seconds=rto,
        rto_target_seconds=cfg.rto_target,
        rpo_seconds=rpo,
        rpo_target_seconds=cfg.rpo_target,
        rpo_column=f"{cfg.rpo.table}.{cfg.rpo.column}" if cfg.rpo is not None else None,
        newest_restored_at=newest,
        verifications=run.verifications,
        passed=not run.failures,
        failures=run.failures,
        **facts,
    )


def drill_observation(result: DrillResult, artifacts: Sequence[Artifact] = ()) -> Observation:
    """The drill as a check's observation: RTO, RPO and phase times measured, each reason it did not
    pass a failure, the whole result in ``detail["drill"]``, the report files as artifacts."""
    from flightdeck.reports.dr_data import duration_text as _duration

    obs = Observation()
    obs.measure("rto_seconds", result.rto_seconds, "s")
    obs.measure("rto_target_seconds", result.rto_target_seconds, "s")
    obs.measure("rpo_seconds", result.rpo_seconds, "s")
    obs.measure("rpo_target_seconds", result.rpo_target_seconds, "s")
    for phase, seconds in result.phases.items():
        obs.measure(f"{phase.value}_seconds", seconds, "s")
    obs.measure("verifications", len(result.verifications))
    obs.measure("verifications_failed", sum(1 for v in result.verifications if v.status is StepStatus.FAILED))
    obs.failures = list(result.failures)
    obs.detail = {DRILL_DETAIL_KEY: result.model_dump(mode="json")}
    obs.artifacts = list(artifacts)
    what = f"backup {result.backup_id}" if result.backup_id else f"no backup of {result.backup_name}"
    if result.passed:
        assert result.rto_seconds is not None
        rpo = f", RPO {_duration(result.rpo_seconds)}" if result.rpo_seconds is not None else ""
        obs.summary = (
            f"drill {result.drill} passed: {what} restored and verified in {_duration(result.rto_seconds)} "
            f"(target {_duration(result.rto_target_seconds)}){rpo}"
        )
    else:
        obs.summary = f"drill {result.drill} failed ({what}): {result.failures[0]}"
        if len(result.failures) > 1:
            obs.summary += f" (+{len(result.failures) - 1} more)"
    return obs
