"""Which backups exist: only complete ones, i.e. those whose ``manifest.json`` was written.

The manifest is stored last (after every artifact was stored and checksummed), and stores are atomic,
so a directory without one is a backup that failed or was killed midway; it is never listed.
"""

from __future__ import annotations

from flightdeck.backups.errors import BackupError
from flightdeck.backups.manifest import MANIFEST_NAME, Manifest, manifest_key
from flightdeck.backups.storage.base import Storage

__all__ = ["find_backup", "list_backups", "read_manifest"]


def read_manifest(storage: Storage, key: str) -> Manifest:
    return Manifest.from_bytes(b"".join(storage.get(key)), where=key)


def list_backups(storage: Storage, name: str) -> list[Manifest]:
    """Complete backups of ``name``, newest first."""
    manifests = [
        read_manifest(storage, key)
        for key in storage.list(f"{name}/")
        if key.count("/") == 2 and key.endswith(f"/{MANIFEST_NAME}")
    ]
    return sorted(manifests, key=lambda m: (m.started_at, m.backup_id), reverse=True)


def find_backup(storage: Storage, name: str, backup_id: str) -> Manifest:
    key = manifest_key(name, backup_id)
    if key not in storage.list(f"{name}/{backup_id}/"):
        raise BackupError(f"no complete backup {backup_id!r} of {name!r} in {storage.describe()}")
    return read_manifest(storage, key)
