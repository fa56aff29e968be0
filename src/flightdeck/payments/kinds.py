"""Check kinds that run payment-integrity jobs on a schedule, so every run is evidence that alert rules
and the launch gate can use. Each names a job configured under ``payments:``. The jobs' modules (DuckDB,
Arrow, WeasyPrint) are imported when a job first runs, so loading the configuration stays fast.

- ``reconciliation``: reconciles a day (default yesterday) — :mod:`flightdeck.payments.reconcile`.
- ``ledger``: verifies the ledger's hash chain and double entry, then anchors new rows and signs a
  checkpoint — :mod:`flightdeck.payments.ledger`.
- ``wallets``: every wallet's stored balance vs the sum of its ledger entries — :mod:`.wallets`.
- ``settlements``: stuck, failed, late and not-credited settlements — :mod:`.settlements`.
- ``gateway_drill``: the fault-injecting gateway drill — :mod:`flightdeck.payments.drill`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, JsonValue

from flightdeck.checks.base import Check, Observation, register
from flightdeck.config.check_spec import CheckSpec
from flightdeck.config.types import Duration, Name
from flightdeck.errors import CheckError
from flightdeck.evidence import Measurement

if TYPE_CHECKING:
    from flightdeck.payments.reconcile import ReconOutcome
    from flightdeck.store import Store

__all__ = [
    "GatewayDrillCheck",
    "GatewayDrillSpec",
    "LedgerCheck",
    "LedgerSpec",
    "ReconciliationCheck",
    "ReconciliationSpec",
    "SettlementsCheck",
    "SettlementsSpec",
    "WalletsCheck",
    "WalletsSpec",
]


class ReconciliationSpec(CheckSpec):
    kind: Literal["reconciliation"]
    reconciliation: Name = Field(description="A key of payments.reconciliations")
    day_offset: int = Field(default=1, ge=0, le=366, description="Reconcile the day this many days back")
    day: date | None = Field(default=None, description="Reconcile this day instead (re-runs)")
    timeout: Duration | None = Field(default=3600, description="Give up after this long (default 1h)")


def _store(check: Check[Any]) -> Store:
    store = check.context.store
    if store is None:
        raise CheckError(f"a {check.spec.kind} check keeps its records in the store; run it with one")
    return store


@register
class ReconciliationCheck(Check[ReconciliationSpec]):
    spec_type = ReconciliationSpec
    outcome: ReconOutcome | None = None

    async def observe(self, memo: JsonValue) -> Observation:
        store = _store(self)
        day = self.spec.day or (self.context.clock.now().date() - timedelta(days=self.spec.day_offset))
        from flightdeck.payments.reconcile import run_reconciliation  # heavy (DuckDB, Arrow): on first use

        self.outcome = await run_reconciliation(self.context.config, store, self.spec.reconciliation, day)
        return self.outcome.observation()


class LedgerSpec(CheckSpec):
    kind: Literal["ledger"]
    ledger: Name = Field(description="A key of payments.ledgers")
    anchor: bool = Field(default=True, description="After verifying, chain new rows and sign a checkpoint")
    timeout: Duration | None = Field(default=3600, description="Give up after this long (default 1h)")


@register
class LedgerCheck(Check[LedgerSpec]):
    spec_type = LedgerSpec

    async def observe(self, memo: JsonValue) -> Observation:
        from flightdeck.payments.ledger import anchor, verify

        store = _store(self)
        config = self.context.config
        cfg = config.payments.ledgers[self.spec.ledger]
        ds = config.datasources[cfg.datasource]
        checked = await verify(self.spec.ledger, cfg, ds, store)
        obs = checked.observation()
        if self.spec.anchor and not checked.tampered:
            anchored = await anchor(self.spec.ledger, cfg, ds, store, now=self.context.clock.now())
            more = anchored.observation()
            # After anchoring, the anchor's figures are the current ones (chained_rows) and nothing is
            # left unanchored; verify's own figures keep their names.
            merged = {m.name: m for m in obs.measurements} | {m.name: m for m in more.measurements}
            merged["unanchored_rows"] = Measurement(name="unanchored_rows", value=0.0, unit="rows")
            obs.measurements = list(merged.values())
            obs.warnings.extend(more.warnings)
            obs.detail["anchor"] = more.detail
            obs.summary = f"{obs.summary}; {more.summary}"
        return obs


class WalletsSpec(CheckSpec):
    kind: Literal["wallets"]
    wallets: Name = Field(description="A key of payments.wallets")
    timeout: Duration | None = Field(default=600, description="Give up after this long (default 10m)")


@register
class WalletsCheck(Check[WalletsSpec]):
    spec_type = WalletsSpec

    async def observe(self, memo: JsonValue) -> Observation:
        from flightdeck.payments.wallets import check_wallets

        config = self.context.config
        cfg = config.payments.wallets[self.spec.wallets]
        result = await check_wallets(cfg, config.datasources[cfg.datasource], name=self.spec.wallets)
        return result.observation()


class SettlementsSpec(CheckSpec):
    kind: Literal["settlements"]
    settlements: Name = Field(description="A key of payments.settlements")
    timeout: Duration | None = Field(default=600, description="Give up after this long (default 10m)")


@register
class SettlementsCheck(Check[SettlementsSpec]):
    spec_type = SettlementsSpec

    async def observe(self, memo: JsonValue) -> Observation:
        from flightdeck.payments.reconcile import gateway_settled_references
        from flightdeck.payments.settlements import check_settlements

        config = self.context.config
        cfg = config.payments.settlements[self.spec.settlements]
        settled: set[str] | None = None
        if cfg.reconciliation is not None and self.context.store is not None:
            settled = gateway_settled_references(config, self.context.store, cfg.reconciliation)
        result = await check_settlements(
            cfg,
            config.datasources[cfg.datasource],
            self.context.clock.now(),
            settled,
            name=self.spec.settlements,
        )
        return result.observation()


class GatewayDrillSpec(CheckSpec):
    kind: Literal["gateway_drill"]
    gateway_drill: Name = Field(description="A key of payments.gateway_drills")
    timeout: Duration | None = Field(default=1800, description="Give up after this long (default 30m)")


@register
class GatewayDrillCheck(Check[GatewayDrillSpec]):
    spec_type = GatewayDrillSpec

    async def observe(self, memo: JsonValue) -> Observation:
        from flightdeck.payments.drill import run_gateway_drill

        cfg = self.context.config.payments.gateway_drills[self.spec.gateway_drill]
        result = await run_gateway_drill(cfg, self.spec.gateway_drill)
        return result.observation()
