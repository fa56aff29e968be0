"""Errors of the backups and disaster-recovery domain (:mod:`flightdeck.backups`).

::

    FlightdeckError
    └── BackupError               (flightdeck.backups) a backup, restore or drill could not be done
        ├── IntegrityError        an artifact's size or SHA-256 differs from its manifest: nothing restored
        ├── DecryptionError       wrong key, or an artifact whose authenticated encryption does not verify
        └── RestoreRefused        the target looks like production (or exists) and was not confirmed

A failed drill *verdict* is evidence with verdict ``fail``, not an error.
"""

from __future__ import annotations

from flightdeck.errors import FlightdeckError

__all__ = ["BackupError", "DecryptionError", "IntegrityError", "RestoreRefused"]


class BackupError(FlightdeckError):
    """A backup, restore or drill could not be done."""


class IntegrityError(BackupError):
    """An artifact's size or SHA-256 differs from what its manifest records; nothing was restored."""


class DecryptionError(BackupError):
    """The key is wrong, or an encrypted chunk does not authenticate (tampered or truncated)."""


class RestoreRefused(BackupError):
    """The restore target looks like production (or already holds data) and was not confirmed."""
