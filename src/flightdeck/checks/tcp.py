"""``tcp``: can a TCP connection be opened, and how long does it take?

Measurements: ``connect_ms``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Literal

from pydantic import Field, JsonValue

from flightdeck.checks.base import Check, Observation, register
from flightdeck.checks.errors import describe_os_error
from flightdeck.config.check_spec import CheckSpec
from flightdeck.errors import CheckError


class TcpSpec(CheckSpec):
    kind: Literal["tcp"]
    host: str = Field(description="Host name or address")
    port: int = Field(ge=1, le=65535)


@register
class TcpCheck(Check[TcpSpec]):
    spec_type = TcpSpec

    async def observe(self, memo: JsonValue) -> Observation:
        spec = self.spec
        t0 = time.perf_counter()
        try:
            _reader, writer = await asyncio.open_connection(spec.host, spec.port)
        except OSError as exc:
            raise CheckError(f"{spec.host}:{spec.port}: {describe_os_error(exc)}") from None
        connect_ms = (time.perf_counter() - t0) * 1000
        peer = writer.get_extra_info("peername")
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        obs = Observation(summary=f"connected in {connect_ms:.1f} ms")
        obs.measure("connect_ms", round(connect_ms, 3), "ms")
        obs.detail["peer"] = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        return obs
