"""Configuration of disaster-recovery drills (``drills.NAME``): restore the latest backup into a scratch
database, check it the way the application would, and measure RTO and RPO against targets.

Example::

    drills:
      monthly:
        backup: payments-db            # a key of backups:
        scratch: postgresql://drill@db-scratch:5432/postgres   # the server the scratch database is made on
        rto_target: 1h
        rpo_target: 26h
        rpo: {table: ledger_entries, column: created_at}
        invariants:
          - name: ledger debits equal credits
            query: SELECT transaction_id FROM ledger_entries GROUP BY 1 HAVING SUM(amount_cents) <> 0
          - name: wallet balances equal ledger sums
            expect: zero
            query: SELECT COUNT(*) FROM wallets w WHERE w.balance_cents <> (SELECT ...)

``scratch`` is a database URL on the server to restore on (PostgreSQL, MySQL/MariaDB): the drill creates
a database of its own there (``fd_drill_<random>``) and drops it afterwards; the URL's own database is
only used to connect. For SQLite it is a directory (default: the system's temporary directory).
The scratch server must not be the production server unless you accept the load of a full restore on
it; ``config validate`` does not guess, the drill's report names where it restored.
"""

from __future__ import annotations

import enum
from pathlib import Path

from pydantic import ConfigDict, Field, model_validator

from flightdeck.config.base import ConfigModel
from flightdeck.config.types import Duration, Name, RelPath
from flightdeck.secret import Secret

__all__ = ["DrillConfig", "InvariantConfig", "InvariantExpect", "RpoSource"]


class InvariantExpect(enum.StrEnum):
    NO_ROWS = "no_rows"  # every row the query returns is a violation
    ZERO = "zero"  # the query returns one value, and it is 0
    TRUE = "true"  # the query returns one value, and it is true (or 1)


class InvariantConfig(ConfigModel):
    """SQL run on the restored copy that must hold, e.g. ledger debits = credits."""

    name: str = Field(min_length=1, description="what the invariant says, in words")
    query: str = Field(min_length=1, description="read-only SQL in the source database's dialect")
    expect: InvariantExpect = Field(
        InvariantExpect.NO_ROWS,
        description="no_rows: every returned row is a violation; zero / true: the one value returned",
    )


class RpoSource(ConfigModel):
    """Where the newest committed change is found: ``MAX(column)`` of ``table`` in the restored data.
    Timestamps (with or without time zone; without is taken as UTC), ISO 8601 text, or numbers as
    Unix time in ``epoch_unit``."""

    table: str = Field(min_length=1)
    column: str = Field(min_length=1)
    epoch_unit: str = Field("s", pattern=r"^(s|ms|us)$", description="unit of a numeric column")


class DrillConfig(ConfigModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, hide_input_in_errors=True)

    backup: Name = Field(description="A key of backups: the drill restores its newest complete backup")
    description: str = ""
    scratch: Secret | None = Field(
        default=None,
        description="PostgreSQL/MySQL: a URL on the server to create the scratch database on; "
        "SQLite: a directory (default: the temporary directory)",
    )
    jobs: int = Field(1, ge=1, le=64, description="pg_restore -j for directory-format backups")
    rto_target: Duration = Field(3600, description="Recovery time objective (default 1h)")
    rpo_target: Duration | None = Field(None, description="Recovery point objective")
    rpo: RpoSource | None = Field(None, description="Where the newest committed change is read from")
    verify_schema: bool = Field(True, description="Compare schema objects with the manifest")
    invariants: list[InvariantConfig] = Field(default_factory=list)
    reports_dir: RelPath = Field(
        default=Path("reports/drills"),
        validate_default=True,
        description="Where DR reports are written (relative to the configuration file)",
    )
    keep_scratch: bool = Field(False, description="Keep the scratch database for inspection (not dropped)")

    @model_validator(mode="after")
    def _rpo_pair(self) -> DrillConfig:
        if self.rpo_target is not None and self.rpo is None:
            raise ValueError("rpo_target needs rpo: {table, column} to read the newest change from")
        return self
