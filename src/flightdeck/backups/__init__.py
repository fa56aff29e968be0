"""Backups: dump a datasource consistently, compress, encrypt, store, and prove it can be read back.

- :mod:`~flightdeck.backups.engines` — pg_dump / mariadb-dump / SQLite backup API, with tool
  versions, the consistent point and row counts taken in the dump's snapshot;
- :mod:`~flightdeck.backups.pipeline` — stream → zstd → AES-256-GCM (:mod:`~flightdeck.backups.crypto`)
  → storage, hashed on the fly;
- :mod:`~flightdeck.backups.manifest` — what a backup holds, written last;
- :mod:`~flightdeck.backups.catalog` — complete backups only;
- :mod:`~flightdeck.backups.verify` — checksums, and reading back only after they match;
- :mod:`~flightdeck.backups.run` — :func:`run_backup`.
"""

from __future__ import annotations

from flightdeck.backups.catalog import find_backup, list_backups
from flightdeck.backups.errors import BackupError, DecryptionError, IntegrityError, RestoreRefused
from flightdeck.backups.manifest import ArtifactRecord, EngineKind, Manifest
from flightdeck.backups.run import BackupResult, open_storage, run_backup
from flightdeck.backups.verify import VerifyResult, open_artifact, verify_artifact, verify_backup

__all__ = [
    "ArtifactRecord",
    "BackupError",
    "BackupResult",
    "DecryptionError",
    "EngineKind",
    "IntegrityError",
    "Manifest",
    "RestoreRefused",
    "VerifyResult",
    "find_backup",
    "list_backups",
    "open_artifact",
    "open_storage",
    "run_backup",
    "verify_artifact",
    "verify_backup",
]
