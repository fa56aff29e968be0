"""The demo's payment-integrity round: once the traffic has made some payments, write today's gateway
statement (with seeded discrepancies), reconcile it, and run the gateway fault drill twice — with the
service's correct retry logic and with the switch that breaks it — so the cockpit's Payments page and
the evidence show real figures a minute after ``make demo``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from flightdeck.config import Config
from flightdeck.demo.estate import Estate
from flightdeck.demo.statement import SeededStatement, write_demo_statement
from flightdeck.evidence import Evidence
from flightdeck.payments.jobs import prepare_job, record_job, record_observation
from flightdeck.store import Store

__all__ = ["PaymentsRound", "run_payments_round"]

log = logging.getLogger(__name__)


@dataclass
class PaymentsRound:
    statement: SeededStatement | None = None
    reconciliation: Evidence | None = None
    drills: dict[str, Evidence] = field(default_factory=dict)


async def run_payments_round(
    estate: Estate, config: Config, store: Store, say: Callable[[str], None] | None = None
) -> PaymentsRound:
    """One statement, one reconciliation and two drills; each leaves evidence. Never raises for a
    failed verdict: the point is to show them."""
    from flightdeck.payments.drill.demo import run_demo_gateway_drill

    note = say or log.info
    out = PaymentsRound()
    day = store.clock.now().date()
    out.statement = write_demo_statement(estate.db_file, day, estate.statements_dir)
    planted = ", ".join(f"{k}: {', '.join(v)}" for k, v in sorted(out.statement.seeded.items()))
    note(f"wrote {out.statement.path.name} ({out.statement.lines} lines; planted {planted})")
    job = prepare_job(
        config, store, kind="reconciliation", field="reconciliation", name="gateway", service="payments",
        overrides={"day": day},
    )  # fmt: skip
    try:
        out.reconciliation = await record_job(config, store, job)
    finally:
        await job.aclose()
    if out.reconciliation is not None:
        note(f"reconciliation {day}: {out.reconciliation.verdict} — {out.reconciliation.summary}")
    # The drill's own service (in this process; the demo's service logs to service.log) warns about
    # every payment whose outcome stayed unknown under the injected faults: expected, and noisy.
    logging.getLogger("flightdeck.demo.service").setLevel(logging.ERROR)
    for mode, name in (("correct", "gateway-drill"), ("broken", "gateway-drill-broken-retry")):
        started = store.clock.now()
        result = await run_demo_gateway_drill(estate.dir, retry=mode, payments=60)
        drill = prepare_job(
            config, store, kind="gateway_drill", field="gateway_drill", name=f"demo-{mode}",
            service="payments", check_name=name,
        )  # fmt: skip
        try:
            out.drills[mode] = record_observation(
                config, store, drill, result.observation(), started, store.clock.now()
            )
        finally:
            await drill.aclose()
        note(f"gateway drill, {mode} retry logic: {out.drills[mode].verdict} — {out.drills[mode].summary}")
    return out
