"""Pruning backups by a retention policy (restic's calendar buckets, :mod:`.retention`).

Before selecting, the newest backup whose artifacts verify (size and SHA-256 against its manifest,
newest first, stopping at the first that passes) is marked verified, so the policy can never remove it.
Removing a backup deletes its ``manifest.json`` first — from then on it is no longer listed as complete —
then its artifacts; a prune interrupted midway leaves unlisted leftovers, never a listed backup with
missing data. ``dry_run`` changes nothing and returns the same plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flightdeck.backups.catalog import list_backups
from flightdeck.backups.errors import BackupError
from flightdeck.backups.manifest import Manifest, manifest_key
from flightdeck.backups.retention import RetentionPlan, Snapshot, select
from flightdeck.backups.storage.base import Storage
from flightdeck.backups.verify import verify_backup
from flightdeck.config.backup_retention import RetentionPolicy

__all__ = ["PruneResult", "newest_verified", "prune_backups"]


@dataclass(frozen=True)
class PruneResult:
    plan: RetentionPlan
    verified: str | None  # the newest backup that verified, kept whatever the rules say
    deleted: list[str] = field(default_factory=list)  # backup ids removed (empty on a dry run)


def newest_verified(storage: Storage, manifests: list[Manifest], key: bytes | None = None) -> str | None:
    """The id of the newest backup (``manifests`` newest first) whose artifacts verify."""
    for manifest in manifests:
        try:
            verify_backup(storage, manifest, key)
        except BackupError:
            continue
        return manifest.backup_id
    return None


def prune_backups(
    storage: Storage, name: str, policy: RetentionPolicy, *, dry_run: bool = True, key: bytes | None = None
) -> PruneResult:
    manifests = list_backups(storage, name)
    verified = newest_verified(storage, manifests, key)
    snapshots = [Snapshot(m.backup_id, m.started_at, m.backup_id == verified) for m in manifests]
    plan = select(snapshots, policy)
    deleted: list[str] = []
    if not dry_run:
        by_id = {m.backup_id: m for m in manifests}
        for decision in plan.removed:
            manifest = by_id[decision.snapshot.id]
            storage.delete(manifest_key(name, manifest.backup_id))  # first: no longer listed
            for artifact in manifest.artifacts:
                storage.delete(artifact.key)
            deleted.append(manifest.backup_id)
    return PruneResult(plan=plan, verified=verified, deleted=deleted)
