"""Check kinds for backups and DR drills, so every backup and drill is evidence, and alert rules and the
launch gate can ask "is there a fresh backup?" and "did a drill pass lately?".

- ``backup``: takes a backup (``backups.NAME``); daily at 02:00 UTC unless scheduled otherwise.
- ``backup_freshness``: the newest backup whose checksums verify is younger than ``max_age``
  (default 26 h). Each backup is verified once (remembered across runs); a newer backup that fails its
  checksum is named as a failure even when an older one is fresh enough.
- ``dr_drill``: runs the drill ``drills.NAME`` (:mod:`flightdeck.backups.drill`) and writes its DR
  report; monthly (1st, 03:00 UTC) unless scheduled otherwise.
- ``drill_recency``: the last *passing* drill of ``drills.NAME`` is younger than ``max_age`` (default
  30 days), read from the evidence store.

The jobs run in a worker thread (tools, large files); the modules they need are imported on first use.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, JsonValue, model_validator

from flightdeck.backups.drill_result import DRILL_DETAIL_KEY
from flightdeck.checks.base import Check, Observation, register
from flightdeck.config.check_spec import CheckSpec
from flightdeck.config.types import Duration, Name
from flightdeck.errors import CheckError
from flightdeck.evidence import Verdict

__all__ = [
    "BackupCheck",
    "BackupFreshnessCheck",
    "BackupFreshnessSpec",
    "BackupSpec",
    "DrDrillCheck",
    "DrDrillSpec",
    "DrillRecencyCheck",
    "DrillRecencySpec",
    "last_passing_drill",
]

DAILY = "0 2 * * *"
MONTHLY = "0 3 1 * *"


def _default_cron(data: Any, cron: str) -> Any:
    if isinstance(data, dict) and data.get("interval") is None and data.get("cron") is None:
        return {**data, "cron": cron}
    return data


class BackupSpec(CheckSpec):
    kind: Literal["backup"]
    backup: Name = Field(description="A key of backups")
    timeout: Duration | None = Field(default=6 * 3600, description="Give up after this long (default 6h)")

    @model_validator(mode="before")
    @classmethod
    def _daily(cls, data: Any) -> Any:
        return _default_cron(data, DAILY)


@register
class BackupCheck(Check[BackupSpec]):
    spec_type = BackupSpec

    async def observe(self, memo: JsonValue) -> Observation:
        from flightdeck.backups.run import run_backup

        config = self.context.config
        cfg = config.backups[self.spec.backup]
        result = await asyncio.to_thread(
            run_backup, self.spec.backup, cfg, config.datasources[cfg.datasource], clock=self.context.clock
        )
        return result.observation()


class BackupFreshnessSpec(CheckSpec):
    kind: Literal["backup_freshness"]
    backup: Name = Field(description="A key of backups")
    max_age: Duration = Field(default=26 * 3600, description="Newest verified backup younger than this")
    verify: bool = Field(default=True, description="Re-read each backup once to check its SHA-256")
    timeout: Duration | None = Field(default=3600, description="Give up after this long (default 1h)")


def _freshness(check: BackupFreshnessCheck, memo: JsonValue, now: datetime) -> Observation:
    from flightdeck.backups.catalog import list_backups
    from flightdeck.backups.errors import BackupError
    from flightdeck.backups.run import open_storage
    from flightdeck.backups.verify import verify_backup

    spec = check.spec
    cfg = check.context.config.backups[spec.backup]
    storage = open_storage(cfg)
    known = memo.get("verified", []) if isinstance(memo, dict) else []
    verified = {str(v) for v in known} if isinstance(known, list) else set()
    obs = Observation()
    broken: list[str] = []
    newest = None
    for manifest in list_backups(storage, spec.backup):
        if spec.verify and manifest.backup_id not in verified:
            try:
                verify_backup(storage, manifest)
            except BackupError as exc:
                broken.append(f"backup {manifest.backup_id} does not verify: {exc}")
                continue
            verified.add(manifest.backup_id)
        newest = manifest
        break
    obs.failures.extend(broken)
    remembered: list[JsonValue] = list(sorted(verified)[-50:])
    obs.memo = {"verified": remembered}
    if newest is None:
        obs.failures.append(f"no verified backup of {spec.backup} in {storage.describe()}")
        obs.summary = obs.failures[-1]
        obs.detail = {"backup": spec.backup, "max_age_seconds": spec.max_age, "verified": False}
        return obs
    age = (now - newest.finished_at).total_seconds()
    obs.measure("backup_age_seconds", age, "s")
    obs.measure("backup_rows", newest.total_rows)
    obs.detail = {
        "backup": spec.backup,
        "newest_backup_id": newest.backup_id,
        "newest_finished_at": newest.finished_at.isoformat(),
        "age_seconds": age,
        "max_age_seconds": spec.max_age,
        "verified": spec.verify,
    }
    hours = age / 3600
    if age > spec.max_age:
        obs.failures.append(
            f"the newest verified backup ({newest.backup_id}) is {hours:.1f} h old; "
            f"at most {spec.max_age / 3600:g} h allowed"
        )
    obs.summary = f"newest verified backup {newest.backup_id}, {hours:.1f} h old"
    return obs


@register
class BackupFreshnessCheck(Check[BackupFreshnessSpec]):
    spec_type = BackupFreshnessSpec

    async def observe(self, memo: JsonValue) -> Observation:
        return await asyncio.to_thread(_freshness, self, memo, self.context.clock.now())


class DrDrillSpec(CheckSpec):
    kind: Literal["dr_drill"]
    drill: Name = Field(description="A key of drills")
    timeout: Duration | None = Field(default=6 * 3600, description="Give up after this long (default 6h)")

    @model_validator(mode="before")
    @classmethod
    def _monthly(cls, data: Any) -> Any:
        return _default_cron(data, MONTHLY)


@register
class DrDrillCheck(Check[DrDrillSpec]):
    spec_type = DrDrillSpec

    async def observe(self, memo: JsonValue) -> Observation:
        from flightdeck.backups.drill import drill_observation, run_drill
        from flightdeck.reports.dr import write_dr_report
        from flightdeck.reports.dr_data import load_drill_history

        config = self.context.config
        cancel = threading.Event()
        try:
            result = await asyncio.to_thread(
                run_drill, config, self.spec.drill, clock=self.context.clock, cancel=cancel
            )
        except asyncio.CancelledError:
            cancel.set()  # the thread stops at the next step and drops its scratch database
            raise
        store = self.context.store
        history = [r for _, r in load_drill_history(store, self.spec.drill)] if store is not None else []
        out_dir = config.drills[self.spec.drill].reports_dir
        artifacts = await asyncio.to_thread(write_dr_report, result, history, out_dir)
        return drill_observation(result, artifacts)


class DrillRecencySpec(CheckSpec):
    kind: Literal["drill_recency"]
    drill: Name = Field(description="A key of drills")
    max_age: Duration = Field(default=30 * 86400, description="Last passing drill younger than this")


def last_passing_drill(store: Any, drill: str) -> tuple[int, datetime] | None:
    """(evidence id, finished at) of the newest passing ``dr_drill`` record of ``drill``."""
    from flightdeck.reports.dr_data import iter_drill_records

    for ev in iter_drill_records(store, drill, verdicts=(Verdict.PASS, Verdict.WARN)):
        detail = ev.detail.get(DRILL_DETAIL_KEY)
        if isinstance(detail, dict) and detail.get("passed"):
            return ev.id, ev.finished_at
    return None


@register
class DrillRecencyCheck(Check[DrillRecencySpec]):
    spec_type = DrillRecencySpec

    async def observe(self, memo: JsonValue) -> Observation:
        store = self.context.store
        if store is None:
            raise CheckError("a drill_recency check reads the evidence store; run it with one")
        found = await asyncio.to_thread(last_passing_drill, store, self.spec.drill)
        obs = Observation()
        days = self.spec.max_age / 86400
        obs.detail = {"drill": self.spec.drill, "max_age_seconds": self.spec.max_age}
        if found is None:
            obs.failures.append(f"no drill {self.spec.drill} has passed yet (run: flightdeck drill run)")
            obs.summary = obs.failures[0]
            return obs
        evidence_id, when = found
        age = (self.context.clock.now() - when).total_seconds()
        obs.measure("drill_age_seconds", age, "s")
        obs.detail |= {
            "last_passing_evidence_id": evidence_id,
            "last_passing_at": when.isoformat(),
            "age_seconds": age,
        }
        if age > self.spec.max_age:
            obs.failures.append(
                f"the last passing drill {self.spec.drill} was {age / 86400:.1f} days ago; "
                f"one is due every {days:g} days"
            )
        obs.summary = (
            f"last passing drill {self.spec.drill}: {age / 86400:.1f} days ago (evidence {evidence_id})"
        )
        return obs
