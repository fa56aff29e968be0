"""What one disaster-recovery drill did and found: the record behind the DR report and the cockpit.

A :class:`DrillResult` is stored whole in the drill's evidence record (``detail["drill"]``), so the
history of past drills — for the report's RTO trend — is read back from the evidence store, with no
table of its own. Everything in it is safe to show: the scratch database and the source are described
without credentials, the key by its id only.

Timing: RTO is measured per phase — :attr:`Phase.FETCH` (read the artifact from storage, checking
size and SHA-256), :attr:`Phase.DECODE` (decrypt and decompress), :attr:`Phase.RESTORE` (load into the
scratch database), :attr:`Phase.VERIFY` (schema, row counts, row hashes, invariants) — and in total
(the sum of the four: the time from "we need the data back" to "the data is back and checked").
RPO is the drill's clock at the end of the restore minus the newest committed timestamp found in the
restored data (the declared column): how much would be lost if the disaster were now.
"""

from __future__ import annotations

import enum
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, JsonValue

__all__ = [
    "DRILL_DETAIL_KEY",
    "DrillResult",
    "DrillStep",
    "Phase",
    "StepStatus",
    "Verification",
    "VerificationKind",
]

DRILL_DETAIL_KEY = "drill"
"""The key of :attr:`Evidence.detail` that holds ``DrillResult.model_dump(mode="json")``."""


class Phase(enum.StrEnum):
    FETCH = "fetch"
    DECODE = "decode"
    RESTORE = "restore"
    VERIFY = "verify"


class StepStatus(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


class VerificationKind(enum.StrEnum):
    SCHEMA = "schema"  # schema objects (tables, views, indexes, sequences, ...) vs the manifest
    ROW_COUNTS = "row_counts"  # rows per table vs the manifest (taken in the dump's snapshot)
    ROW_HASHES = "row_hashes"  # SHA-256 over a declared table's rows in key order vs the manifest
    INVARIANT = "invariant"  # user-declared SQL (ledger debits = credits, ...)


class DrillStep(BaseModel):
    """One step of the drill, in the order it ran. ``phase`` is set for the steps RTO is made of."""

    model_config = ConfigDict(frozen=True)

    name: str  # "select backup", "fetch and verify checksum", "decode", "create scratch database", ...
    phase: Phase | None = None
    status: StepStatus
    started_at: datetime
    finished_at: datetime
    seconds: float
    message: str = ""


class Verification(BaseModel):
    """One verification of the restored data. ``expected``/``actual`` are short texts for people;
    ``query`` and ``result`` are set for invariants (the SQL as declared, the rows it returned)."""

    model_config = ConfigDict(frozen=True)

    kind: VerificationKind
    name: str  # "table public.wallets", "ledger debits = credits", "schema objects"
    status: StepStatus
    expected: str | None = None
    actual: str | None = None
    message: str = ""
    query: str | None = None
    result: JsonValue = None


class DrillResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    drill: str  # the key of ``drills:``
    service: str
    backup_name: str  # the key of ``backups:``
    backup_id: str | None = None  # None when no backup could be selected
    backup_sha256: str | None = None  # of the data artifact, as stored
    backup_started_at: datetime | None = None
    backup_finished_at: datetime | None = None
    manifest: dict[str, JsonValue] | None = None  # Manifest.model_dump(mode="json")
    engine: str | None = None  # postgres | mysql | sqlite
    source: str | None = None  # described without credentials
    scratch: str | None = None  # the scratch database, described without credentials
    storage: str | None = None  # Storage.describe()
    tool_versions: dict[str, str] = Field(default_factory=dict)  # dump tools + restore tools
    operator: str  # who ran it: "scheduler" or user@host
    trigger: str  # schedule | manual
    started_at: datetime
    finished_at: datetime
    steps: list[DrillStep] = Field(default_factory=list)
    phases: dict[Phase, float] = Field(default_factory=dict)  # seconds per phase that ran
    rto_seconds: float | None = None  # sum of the four phases; None when the restore did not finish
    rto_target_seconds: float
    rpo_seconds: float | None = None
    rpo_target_seconds: float | None = None
    rpo_column: str | None = None  # "table.column" the RPO was read from
    newest_restored_at: datetime | None = None
    verifications: list[Verification] = Field(default_factory=list)
    passed: bool
    failures: list[str] = Field(default_factory=list)  # why it did not pass, one sentence each

    @property
    def rto_met(self) -> bool | None:
        return None if self.rto_seconds is None else self.rto_seconds <= self.rto_target_seconds

    @property
    def rpo_met(self) -> bool | None:
        if self.rpo_seconds is None or self.rpo_target_seconds is None:
            return None
        return self.rpo_seconds <= self.rpo_target_seconds
