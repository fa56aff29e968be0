"""Restoring a backup: refuse what looks like production, prove the bytes, keep a way back, load, count.

:func:`restore_backup` works in this order, and each step runs only when the one before succeeded:

1. **Check the target** (a read-only look, before a byte of the backup is read). It *looks like
   production* when it is the backup's own source (same host, port and database; for SQLite the same
   file), when its name matches :data:`PRODUCTION_PATTERNS` (``prod``, ``production``, ``live``,
   ``main`` as a word of the name: ``prod_x`` and ``shop-live`` match, ``product`` does not), or when
   it already holds tables. Such a target is refused with :class:`RestoreRefused` unless ``force`` is
   set *and* ``confirm_name`` equals the target's database name (the SQLite file name) — typed, not
   a yes/no.
2. **Verify and decode** every artifact into a private temporary directory (mode 0700):
   :func:`~flightdeck.backups.verify.open_artifact` checks size and SHA-256 first, then decrypts and
   decompresses; a PostgreSQL directory archive is unpacked there. A flipped byte
   (:class:`IntegrityError`) or a wrong key (:class:`DecryptionError`) therefore stops the restore
   before the target is touched. Disk cost: the stored artifact (a spool) plus the whole decoded
   dump (``raw_size_bytes`` in the manifest), plus for a directory archive the unpacked copy —
   about twice the dump, in ``$TMPDIR``.
3. **Safety backup**: when the target exists and holds tables, ``safety_backup()`` is called and the
   restore goes on only once it returned; its backup id is recorded. Without a ``safety_backup``
   function a target holding tables is refused.
4. **Load** (:mod:`~flightdeck.backups.restore_target`), creating the database when it does not exist.
5. **Count** the rows of every table in the manifest's ``table_counts`` and report each difference
   as a failure of the :class:`RestoreResult`'s observation.

``progress(phase, n)`` reports bytes processed: :attr:`RestorePhase.DECODE` while decoding (out of
``Manifest.raw_size_bytes``-sum), :attr:`RestorePhase.LOAD` while loading (the same total; PostgreSQL
and SQLite report it at once when the load finished).
"""

from __future__ import annotations

import enum
import re
import shutil
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import JsonValue

from flightdeck.backups.errors import RestoreRefused
from flightdeck.backups.manifest import EngineKind, Manifest
from flightdeck.backups.restore_target import (
    TargetState,
    count_rows,
    ensure_database,
    inspect_target,
    load_dump,
    target_name,
)
from flightdeck.backups.storage.base import Storage
from flightdeck.backups.verify import open_artifact
from flightdeck.checks.base import Observation
from flightdeck.datasources import DatabaseUrl, Dialect

__all__ = [
    "PRODUCTION_PATTERNS",
    "RestorePhase",
    "RestoreResult",
    "production_reasons",
    "restore_backup",
]

PRODUCTION_PATTERNS: tuple[str, ...] = ("prod", "production", "live", "main")
"""Words that make a target's name look like production (matched as whole words, case-insensitive)."""

_ENGINE_DIALECT = {
    EngineKind.POSTGRES: Dialect.POSTGRESQL,
    EngineKind.MYSQL: Dialect.MYSQL,
    EngineKind.SQLITE: Dialect.SQLITE,
}
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


class RestorePhase(enum.StrEnum):
    DECODE = "decode"
    LOAD = "load"


Progress = Callable[[RestorePhase, int], None]


@dataclass(frozen=True)
class RestoreResult:
    backup_id: str
    target: str  # described without the password
    safety_backup_id: str | None
    duration_seconds: float
    bytes_restored: int
    expected_counts: dict[str, int]
    actual_counts: dict[str, int | None]
    created_database: bool = False
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def observation(self) -> Observation:
        obs = Observation()
        obs.measure("restore_seconds", self.duration_seconds, "s")
        obs.measure("bytes_restored", self.bytes_restored, "bytes")
        obs.measure("tables", len(self.actual_counts))
        obs.measure("rows", sum(v for v in self.actual_counts.values() if v is not None))
        obs.failures = list(self.mismatches)
        counts: dict[str, JsonValue] = dict(self.actual_counts)
        obs.detail = {
            "backup_id": self.backup_id,
            "target": self.target,
            "safety_backup_id": self.safety_backup_id,
            "created_database": self.created_database,
            "row_counts": counts,
        }
        verdict = "row counts match the manifest" if self.ok else f"{len(self.mismatches)} count mismatch(es)"
        obs.summary = f"restored {self.backup_id} into {self.target}: {verdict}"
        return obs


def _name_words(name: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", name.lower()) if w}


def _hostport(text: str) -> tuple[str, str]:
    host, _, port = text.rpartition(":")
    return ("localhost" if host in _LOCAL_HOSTS else host), port


def _same_as_source(target: DatabaseUrl, manifest: Manifest) -> bool:
    source = manifest.source
    if target.dialect is Dialect.SQLITE:
        if not source.startswith("sqlite:"):
            return False
        assert target.path is not None
        return Path(source[7:]).expanduser().resolve() == Path(target.path).expanduser().resolve()
    where, _, database = source.rpartition("@")[2].rpartition("/")
    return database == (target.database or "") and _hostport(where) == _hostport(target.where)


def production_reasons(
    target: DatabaseUrl,
    manifest: Manifest,
    state: TargetState,
    patterns: tuple[str, ...] = PRODUCTION_PATTERNS,
) -> list[str]:
    """Why the target looks like production (empty: it does not)."""
    reasons = []
    if _same_as_source(target, manifest):
        reasons.append(f"it is the backup's own source database ({manifest.source})")
    name = target_name(target)
    words = _name_words(Path(name).stem if target.dialect is Dialect.SQLITE else name)
    hits = sorted(words & {p.lower() for p in patterns})
    if hits:
        reasons.append(f"its name {name!r} contains {', '.join(repr(h) for h in hits)}")
    if state.holds_tables:
        shown = ", ".join(state.tables[:5]) + (", ..." if len(state.tables) > 5 else "")
        reasons.append(f"it already holds {len(state.tables)} table(s): {shown}")
    return reasons


def _check_target(
    target: DatabaseUrl, manifest: Manifest, state: TargetState, force: bool, confirm_name: str | None
) -> None:
    if _ENGINE_DIALECT[manifest.engine] is not target.dialect:
        raise RestoreRefused(
            f"backup {manifest.backup_id} is a {manifest.engine.value} backup; "
            f"the target {target.describe()} is {target.dialect.value}"
        )
    reasons = production_reasons(target, manifest, state)
    if not reasons:
        return
    name = target_name(target)
    why = "; ".join(reasons)
    if not force:
        raise RestoreRefused(
            f"refusing to restore into {target.describe()}: {why}. To overwrite it anyway, pass "
            f"--force --confirm-name {name} (force=True, confirm_name={name!r})"
        )
    if confirm_name != name:
        typed = "no name" if confirm_name is None else f"{confirm_name!r}"
        raise RestoreRefused(
            f"refusing to restore into {target.describe()}: {why}. --force needs --confirm-name {name} "
            f"(the target database's name, typed); {typed} was given"
        )


def _decode(
    storage: Storage, manifest: Manifest, key: bytes | None, workdir: Path, progress: Progress | None
) -> tuple[Path, int]:
    """Verify and decode every artifact into ``workdir``; returns the dump to load and its size."""
    total = 0
    decoded: dict[str, Path] = {}
    for artifact in manifest.artifacts:
        out = workdir / f"{artifact.name}.decoded"
        with open_artifact(storage, manifest, artifact.name, key) as chunks, open(out, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
                total += len(chunk)
                if progress is not None:
                    progress(RestorePhase.DECODE, len(chunk))
        decoded[artifact.name] = out
    data = manifest.artifact("data")
    dump = decoded[data.name]
    if data.content.startswith("tar"):  # a PostgreSQL directory archive, packed as tar
        unpacked = workdir / "dump"
        with tarfile.open(dump) as tar:
            tar.extractall(unpacked, filter="data")
        dump.unlink()
        dump = unpacked
    return dump, total


def restore_backup(
    storage: Storage,
    manifest: Manifest,
    key: bytes | None,
    target: DatabaseUrl,
    *,
    force: bool = False,
    confirm_name: str | None = None,
    safety_backup: Callable[[], str | None] | None = None,
    progress: Progress | None = None,
    jobs: int = 1,
) -> RestoreResult:
    """Restore ``manifest``'s backup into ``target`` (see the module docstring for the order of steps).

    Raises :class:`RestoreRefused` before anything is read, :class:`IntegrityError` /
    :class:`DecryptionError` before the target is touched, :class:`BackupError` when a tool fails.
    """
    t0 = time.monotonic()
    state = inspect_target(target)
    _check_target(target, manifest, state, force, confirm_name)
    if state.holds_tables and safety_backup is None:
        raise RestoreRefused(
            f"{target.describe()} holds tables and no safety backup can be taken of it first"
        )
    workdir = Path(tempfile.mkdtemp(prefix="flightdeck-restore-"))  # 0700: the decoded dump is private
    try:
        dump, size = _decode(storage, manifest, key, workdir, progress)
        safety_id = safety_backup() if state.holds_tables and safety_backup is not None else None
        if not state.exists:
            ensure_database(target)

        def advance(n: int) -> None:
            if progress is not None:
                progress(RestorePhase.LOAD, n)

        load_dump(target, dump, jobs=jobs, advance=advance)
        if target.dialect is not Dialect.MYSQL:
            advance(size)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    actual = count_rows(target, manifest.table_counts)
    mismatches = []
    for table, expected in sorted(manifest.table_counts.items()):
        got = actual.get(table)
        if got is None:
            mismatches.append(f"table {table} is missing after the restore (manifest: {expected} rows)")
        elif got != expected:
            mismatches.append(f"table {table}: {got} rows restored, manifest says {expected}")
    return RestoreResult(
        backup_id=manifest.backup_id,
        target=target.describe(),
        safety_backup_id=safety_id,
        duration_seconds=time.monotonic() - t0,
        bytes_restored=size,
        expected_counts=dict(manifest.table_counts),
        actual_counts=actual,
        created_database=not state.exists,
        mismatches=mismatches,
    )
