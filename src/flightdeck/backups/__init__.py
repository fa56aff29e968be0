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

import importlib
from typing import TYPE_CHECKING, Any

from flightdeck.backups.errors import BackupError, DecryptionError, IntegrityError, RestoreRefused
from flightdeck.backups.manifest import ArtifactRecord, EngineKind, Manifest

if TYPE_CHECKING:
    from flightdeck.backups.catalog import find_backup, list_backups
    from flightdeck.backups.run import BackupResult, open_storage, run_backup
    from flightdeck.backups.verify import VerifyResult, open_artifact, verify_artifact, verify_backup

# The engines, the pipeline and storage (psycopg, zstandard, cryptography, boto3) load on first use, so
# importing the package (the check kinds do, at start-up) stays cheap.
_LAZY = {
    "find_backup": "catalog",
    "list_backups": "catalog",
    "BackupResult": "run",
    "open_storage": "run",
    "run_backup": "run",
    "VerifyResult": "verify",
    "open_artifact": "verify",
    "verify_artifact": "verify",
    "verify_backup": "verify",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


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
