"""Check kinds used by the scheduler tests. Importing this module registers them.

``test-probe`` makes a real HTTP request (through flightdeck's HTTP client) to a URL and reports
the status; the recording target in ``target.py`` sees every request. ``test-script`` does what
the test asks in-process (succeed, hang, raise, sleep) and counts its calls.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from typing import Literal

from pydantic import JsonValue

from flightdeck.checks.base import Check, Observation, register
from flightdeck.checks.httpclient import fetch
from flightdeck.config import CheckSpec

CALLS: Counter[str] = Counter()
MEMOS_SEEN: dict[str, list[JsonValue]] = {}


class ProbeSpec(CheckSpec):
    kind: Literal["test-probe"]
    url: str


@register
class ProbeCheck(Check[ProbeSpec]):
    spec_type = ProbeSpec

    async def observe(self, memo: JsonValue) -> Observation:
        resp = await fetch(self.context, self.spec.url, headers={"X-Runner-Pid": str(os.getpid())})
        obs = Observation(summary=f"HTTP {resp.status}")
        obs.measure("status", resp.status)
        if resp.status >= 400:
            obs.failures.append(f"status {resp.status}")
        return obs


class ScriptSpec(CheckSpec):
    kind: Literal["test-script"]
    behaviour: Literal["ok", "hang", "raise", "sleep"] = "ok"
    seconds: float = 0.0


@register
class ScriptCheck(Check[ScriptSpec]):
    spec_type = ScriptSpec

    async def observe(self, memo: JsonValue) -> Observation:
        CALLS[self.subject] += 1
        MEMOS_SEEN.setdefault(self.subject, []).append(memo)
        b = self.spec.behaviour
        if b == "hang":
            await asyncio.sleep(3600)
        if b == "raise":
            raise ZeroDivisionError("division by zero")
        if b == "sleep":
            await asyncio.sleep(self.spec.seconds)
        runs = memo.get("runs", 0) if isinstance(memo, dict) else 0
        assert isinstance(runs, int)
        obs = Observation(summary="fine", memo={"runs": runs + 1})
        obs.measure("runs", runs + 1)
        return obs
