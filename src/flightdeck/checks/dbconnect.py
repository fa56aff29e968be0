"""Opening the one connection a database check (``mysql``, ``postgres``) measures."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from flightdeck.checks.base import Check, Observation
from flightdeck.datasources import DatabaseUrl, DatasourceError, Dialect, resolve_target
from flightdeck.errors import CheckError
from flightdeck.secret import Secret

__all__ = ["Connected", "Connector", "connect_target"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Connector(Protocol[T_co]):
    def __call__(self, url: DatabaseUrl, *, connect_timeout: float) -> Awaitable[T_co]: ...


class Connected(NamedTuple, Generic[T]):
    """An open connection, where it goes, how long it took, and the observation it starts."""

    url: DatabaseUrl
    conn: T
    connect_ms: float
    obs: Observation


async def connect_target(
    check: Check[Any], url: Secret | None, datasource: str | None, dialect: Dialect, connect: Connector[T]
) -> Connected[T]:
    """Resolve the check's URL or datasource and connect, timing it; errors become :class:`CheckError`.

    The observation has ``connect_ms`` and the ``target`` (and ``datasource``) details.
    """
    try:
        target, connect_timeout = resolve_target(
            check.context.config, url, datasource, {dialect}, check.spec.kind
        )
    except (DatasourceError, ValueError) as exc:
        raise CheckError(str(exc)) from None
    t0 = time.perf_counter()
    try:
        conn = await connect(target, connect_timeout=connect_timeout or check.timeout)
    except DatasourceError as exc:
        raise CheckError(exc.reason) from None
    connect_ms = (time.perf_counter() - t0) * 1000
    obs = Observation()
    obs.measure("connect_ms", round(connect_ms, 3), "ms")
    obs.detail["target"] = target.describe()
    if datasource:
        obs.detail["datasource"] = datasource
    return Connected(target, conn, connect_ms, obs)
