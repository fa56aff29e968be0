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
   decompresses (in a thread, a few chunks ahead of the writes); a PostgreSQL directory archive is
   unpacked there as it is decoded (the decoded tar is never written whole). A flipped byte
   (:class:`IntegrityError`) or a wrong key (:class:`DecryptionError`) therefore stops the restore
   before the target is touched. Disk cost: the stored artifact (a spool) plus the decoded dump
   (``raw_size_bytes`` in the manifest), in ``$TMPDIR``.
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
import io
import queue
import re
import shutil
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import JsonValue

from flightdeck.backups.drill_checks import verify_counts
from flightdeck.backups.drill_result import StepStatus
from flightdeck.backups.engines.process import READ_SIZE as _READ_SIZE
from flightdeck.backups.errors import RestoreRefused
from flightdeck.backups.manifest import ArtifactRecord, EngineKind, Manifest
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
    "decode_into",
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


class _ChunkFile(io.RawIOBase):
    """A read-only, unseekable file over an iterator of byte chunks (what tarfile's stream mode reads).

    ``read`` hands whole chunks on without copying them when it can.
    """

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""
        self._offset = 0

    def readable(self) -> bool:
        return True

    def _fill(self) -> int:
        while self._offset >= len(self._pending):
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending, self._offset = chunk, 0
        return len(self._pending) - self._offset

    def read(self, size: int | None = -1) -> bytes:
        left = self._fill()
        if not left:
            return b""
        start = self._offset
        if size is None or size < 0 or size >= left:
            self._offset = len(self._pending)
            return self._pending if start == 0 else self._pending[start:]
        self._offset += size
        return self._pending[start : start + size]

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _Prefetch:
    """Runs an iterator of chunks in a thread, a few chunks ahead of the consumer, so that producing
    them (decryption and decompression, which release the GIL) overlaps with writing them out.

    Exceptions of the producer are raised in the consumer; :meth:`close` stops the producer and waits
    for it, so nothing runs on once the consumer has left.
    """

    _DONE = object()

    def __init__(self, chunks: Iterator[bytes], depth: int = 8) -> None:
        self._chunks = chunks
        self._queue: queue.Queue[object] = queue.Queue(depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="restore-decode", daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for chunk in self._chunks:
                if not self._put(chunk):
                    return
            self._put(self._DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(exc)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            item = self._queue.get()
            if item is self._DONE:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, bytes)
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def _prefetched(chunks: Iterator[bytes]) -> Iterator[Iterator[bytes]]:
    ahead = _Prefetch(chunks)
    try:
        yield iter(ahead)
    finally:
        ahead.close()


def _metered(chunks: Iterator[bytes], progress: Progress | None, total: list[int]) -> Iterator[bytes]:
    for chunk in chunks:
        total[0] += len(chunk)
        if progress is not None:
            progress(RestorePhase.DECODE, len(chunk))
        yield chunk


def _decode(
    storage: Storage, manifest: Manifest, key: bytes | None, workdir: Path, progress: Progress | None
) -> tuple[Path, int]:
    """Verify and decode every artifact into ``workdir``; returns the dump to load and its size.

    A PostgreSQL directory archive (packed as tar) is unpacked while it is decoded — the decoded tar is
    never written whole — with tarfile's ``data`` filter (no absolute paths, no ``..``, no links out
    of the directory, no devices).
    """
    total = [0]
    decoded: dict[str, Path] = {}
    for artifact in manifest.artifacts:
        with open_artifact(storage, manifest, artifact.name, key) as verified:
            decoded[artifact.name] = decode_into(artifact, verified, workdir, progress, total)
    return decoded[manifest.artifact("data").name], total[0]


def decode_into(
    artifact: ArtifactRecord,
    verified: Iterator[bytes],
    workdir: Path,
    progress: Progress | None = None,
    total: list[int] | None = None,
) -> Path:
    """Write an artifact's decoded stream (already checksum-verified) into ``workdir``: the data of a
    PostgreSQL directory archive unpacked as ``workdir/dump``, anything else as ``<name>.decoded``.
    Decoding runs a few chunks ahead in a thread; ``total[0]`` counts the decoded bytes."""
    total = total if total is not None else [0]
    with _prefetched(verified) as ahead:
        chunks = _metered(ahead, progress, total)
        if artifact.name == "data" and artifact.content.startswith("tar"):
            out = workdir / "dump"
            stream = _ChunkFile(chunks)
            with tarfile.open(fileobj=stream, mode="r|", bufsize=_READ_SIZE) as tar:
                tar.copybufsize = _READ_SIZE  # type: ignore[attr-defined]  # (not in the stubs)
                tar.extractall(out, filter="data")
            for _ in chunks:  # the zstd frame's end, after the tar's end-of-archive blocks
                pass
        else:
            out = workdir / f"{artifact.name}.decoded"
            with open(out, "wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
    return out


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
    # The same comparison a drill makes (a MySQL count from another snapshot is not a mismatch).
    mismatches = [
        f"{v.name}: {v.actual} restored, the manifest says {v.expected}"
        for v in verify_counts(actual, manifest)
        if v.status is StepStatus.FAILED
    ]
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
