"""What an experiment's probes do (an HTTP response, a configured check's verdict, a command's exit
code) and how a probe is polled until it holds."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from flightdeck.config.experiments import CheckProbe, CommandProbe, HttpProbe
from flightdeck.config.types import format_duration
from flightdeck.engine.runner import run_check
from flightdeck.evidence import Trigger
from flightdeck.experiments.actions import send_request, timed_command
from flightdeck.experiments.context import Outcome, RunContext

__all__ = ["PROBES", "Held", "poll_probe", "probe_once"]


async def _http(step: HttpProbe, ctx: RunContext) -> Outcome:
    return await send_request(step, ctx)


async def _check(step: CheckProbe, ctx: RunContext) -> Outcome:
    prepared = ctx.prepared_check(step.check)
    result = await run_check(prepared, trigger=Trigger.MANUAL)
    verdict = result.evidence.verdict
    wanted = [v.value for v in step.expect]
    ok = verdict.value in wanted
    text = f"{step.check}: {verdict.value} ({result.evidence.summary})"
    if not ok:
        text += f", expected {' or '.join(wanted)}"
    return Outcome(ok, ctx.clean(text), {"verdict": verdict.value})


async def _command(step: CommandProbe, ctx: RunContext) -> Outcome:
    return await timed_command(ctx, step.argv, step.env, step.cwd, step.timeout, step.expect_exit)


PROBES: dict[type[Any], Callable[[Any, RunContext], Awaitable[Outcome]]] = {
    HttpProbe: _http,
    CheckProbe: _check,
    CommandProbe: _command,
}


async def probe_once(step: Any, ctx: RunContext) -> Outcome:
    return await PROBES[type(step)](step, ctx)


@dataclass(frozen=True)
class Held:
    """A probe polled until it held (or the time ran out): the last outcome, the tries, and the
    seconds from the start of polling to the try that held."""

    outcome: Outcome
    attempts: int
    held_after: float | None


async def poll_probe(step: Any, ctx: RunContext, *, budget: float | None, poll: float, origin: float) -> Held:
    """Try ``step`` until it holds; with ``budget`` ``None`` only once. ``origin`` is the monotonic
    time the budget and the held-after time count from."""
    clock = ctx.clock
    attempts = 0
    while True:
        attempts += 1
        outcome = await probe_once(step, ctx)
        elapsed = clock.monotonic() - origin
        if outcome.ok:
            return Held(outcome, attempts, elapsed)
        if budget is None or elapsed + poll > budget:
            if budget is not None:
                outcome.output = (
                    f"did not hold within {format_duration(budget)} ({attempts} attempts); last: "
                    + outcome.output
                )
            return Held(outcome, attempts, None)
        await clock.sleep(poll)
