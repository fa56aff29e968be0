"""One backup run: engine → pipeline → storage, then the manifest, last.

Layout in storage::

    <name>/<backup id>/data.<suffix>.zst[.enc]    the dump (suffix: dump, tar, sql, sqlite)
    <name>/<backup id>/manifest.json              written only after the data is stored and hashed

The backup id is the start time (UTC, ``20261123T060000Z``) plus 6 random hex digits, so ids sort
by time and two runs in the same second do not collide. If anything fails the partial artifacts are
deleted (best effort); if the process dies instead, they stay without a manifest and are never
listed as a backup.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import JsonValue

from flightdeck.backups.crypto import ALGORITHM as ENCRYPTION_ALGORITHM
from flightdeck.backups.engines import engine_for
from flightdeck.backups.errors import BackupError
from flightdeck.backups.manifest import ArtifactRecord, Manifest, manifest_key
from flightdeck.backups.pipeline import store_stream
from flightdeck.backups.storage.base import Storage
from flightdeck.backups.storage.local import LocalStorage
from flightdeck.checks.base import Observation
from flightdeck.clock import Clock, SystemClock
from flightdeck.config.backup_storage import S3StorageConfig
from flightdeck.config.backups import BackupConfig
from flightdeck.config.models import DatasourceConfig
from flightdeck.datasources import DatabaseUrl

__all__ = ["BackupResult", "open_storage", "run_backup"]

log = logging.getLogger(__name__)


def open_storage(cfg: BackupConfig) -> Storage:
    if isinstance(cfg.storage, S3StorageConfig):
        from flightdeck.backups.storage.s3 import S3Storage  # boto3: only when used

        return S3Storage(cfg.storage)
    return LocalStorage(cfg.storage.path)


@dataclass(frozen=True)
class BackupResult:
    manifest: Manifest
    manifest_key: str
    compressed_bytes: int
    duration_seconds: float

    def observation(self) -> Observation:
        m = self.manifest
        obs = Observation()
        obs.measure("size_bytes", sum(a.raw_size_bytes for a in m.artifacts), "bytes")
        obs.measure("compressed_bytes", self.compressed_bytes, "bytes")
        obs.measure("stored_bytes", sum(a.size_bytes for a in m.artifacts), "bytes")
        obs.measure("duration_seconds", self.duration_seconds, "s")
        obs.measure("tables", len(m.table_counts))
        obs.measure("rows", m.total_rows)
        point: dict[str, JsonValue] = dict(m.consistent_point)
        versions: dict[str, JsonValue] = dict(m.tool_versions)
        obs.detail = {
            "backup": m.name,
            "backup_id": m.backup_id,
            "manifest_key": self.manifest_key,
            "engine": m.engine.value,
            "source": m.source,
            "tool_versions": versions,
            "consistent_point": point,
            "artifacts": [a.key for a in m.artifacts],
        }
        obs.summary = (
            f"backup {m.backup_id}: {len(m.table_counts)} tables, {m.total_rows} rows, "
            f"{sum(a.size_bytes for a in m.artifacts)} bytes stored"
        )
        return obs


def new_backup_id(clock: Clock) -> str:
    return clock.now().strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def run_backup(
    name: str,
    cfg: BackupConfig,
    datasource: DatasourceConfig,
    *,
    clock: Clock | None = None,
    progress: Callable[[int], None] | None = None,
) -> BackupResult:
    """Dump ``datasource`` as configured by ``cfg``; returns once the manifest is stored.

    ``progress`` is called with the number of dump bytes each time a chunk has been read.
    """
    clock = clock or SystemClock()
    url = DatabaseUrl.parse(datasource.url)
    engine = engine_for(url, cfg)
    storage = open_storage(cfg)
    started, t0 = clock.now(), clock.monotonic()
    backup_id = new_backup_id(clock)
    key = cfg.encryption_key
    log.info("backup %s of %s (%s) started as %s", name, url.describe(), engine.kind.value, backup_id)
    written: list[str] = []
    try:
        with engine.dump() as dump:
            data_key = f"{name}/{backup_id}/data.{dump.info.suffix}.zst" + (".enc" if key else "")
            written.append(data_key)
            stored = store_stream(
                storage,
                data_key,
                dump.chunks,
                level=cfg.compression_level,
                encryption_key=key,
                progress=progress,
            )
        info = dump.info
        artifact = ArtifactRecord(
            name="data",
            key=data_key,
            size_bytes=stored.size_bytes,
            sha256=stored.sha256,
            raw_size_bytes=stored.raw_size_bytes,
            content=info.content,
            compression_level=cfg.compression_level,
            encryption=ENCRYPTION_ALGORITHM if key else None,
            key_id=cfg.encryption.key_id if cfg.encryption is not None else None,
        )
        manifest = Manifest(
            backup_id=backup_id,
            name=name,
            service=cfg.service,
            datasource=cfg.datasource,
            source=url.describe(),
            engine=engine.kind,
            tool_versions=info.tool_versions,
            started_at=started,
            finished_at=clock.now(),
            consistent_point=info.consistent_point,
            table_counts=info.table_counts,
            schema_objects=info.schema_objects,
            table_hashes=info.table_hashes,
            artifacts=[artifact],
        )
        mkey = manifest_key(name, backup_id)
        storage.put(mkey, [manifest.to_bytes()])  # LAST: this is what makes the backup complete
    except BaseException:
        for k in written:
            try:
                storage.delete(k)
            except (BackupError, OSError):
                log.warning("could not remove partial artifact %s", k)
        raise
    duration = clock.monotonic() - t0
    log.info("backup %s finished: %s bytes stored", backup_id, stored.size_bytes)
    return BackupResult(manifest, mkey, stored.compressed_bytes, duration)
