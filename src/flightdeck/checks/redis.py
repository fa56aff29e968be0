"""``redis``: is Redis reachable and fast, how full is it, and is it evicting keys?

Measurements: ``connect_ms``, ``ping_ms``, ``memory_used_bytes``, ``memory_max_bytes`` and
``memory_used_pct`` (only when ``maxmemory`` is set), ``connected_clients``, ``clients_max``,
``blocked_clients``, ``evicted_keys`` (since the server started) and ``evicted_keys_delta`` (since
this check's previous run). The verdict is decided by the user's conditions.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Literal
from urllib.parse import urlsplit

import redis.asyncio as aioredis
import redis.exceptions
from pydantic import Field, JsonValue, field_validator
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from flightdeck.checks.base import Check, Observation, register
from flightdeck.checks.errors import describe_os_error
from flightdeck.config.check_spec import CheckSpec
from flightdeck.errors import CheckError
from flightdeck.secret import MASK, Secret

__all__ = ["RedisCheck", "RedisSpec"]

_SCHEMES = ("redis", "rediss", "unix")


class RedisSpec(CheckSpec):
    kind: Literal["redis"]
    url: Secret = Field(
        description="redis://[user:password@]host:port/db, rediss:// for TLS, or unix:///path.sock "
        "(a secret; url_file works)"
    )

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: Secret) -> Secret:
        try:
            scheme = urlsplit(value.reveal()).scheme
        except ValueError:
            raise ValueError("not a valid URL") from None
        if scheme not in _SCHEMES:
            raise ValueError(
                f"a redis check needs a redis://, rediss:// or unix:// URL, not {scheme or 'none'}"
            )
        return value


def _target(url: str) -> str:
    """``host:port/db`` (``unix:/path`` for a socket): never the URL itself, which is a secret."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix:{parts.path}"
    db = parts.path.lstrip("/") or "0"
    who = f"{parts.username}@" if parts.username else ""
    return f"{who}{parts.hostname or 'localhost'}:{parts.port or 6379}/{db}"


def _reason(exc: BaseException, password: str | None) -> str:
    """A one-line reason; redis-py's messages never carry the password, but make sure."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and not isinstance(cause, redis.exceptions.RedisError):
            return describe_os_error(cause)
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, redis.exceptions.TimeoutError):
        text = "timed out"
    elif isinstance(
        exc, redis.exceptions.AuthenticationError | redis.exceptions.AuthenticationWrongNumberOfArgsError
    ):
        text = f"authentication failed: {exc}"
    else:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "NOAUTH" in text or "WRONGPASS" in text:
            text = f"authentication failed: {text}"
    if password and len(password) >= 4:
        text = text.replace(password, MASK)
    return text


def _int(info: dict[str, Any], key: str) -> int | None:
    value = info.get(key)
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@register
class RedisCheck(Check[RedisSpec]):
    spec_type = RedisSpec

    async def observe(self, memo: JsonValue) -> Observation:
        raw = self.spec.url.reveal()
        target = _target(raw)
        password = urlsplit(raw).password
        timeout = self.timeout
        client = aioredis.Redis.from_url(
            raw,
            single_connection_client=True,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
        )
        try:
            t0 = time.perf_counter()
            await client.initialize()  # a fresh connection: TCP (+TLS), AUTH, SELECT
            connect_ms = (time.perf_counter() - t0) * 1000
            t1 = time.perf_counter()
            await client.ping()
            ping_ms = (time.perf_counter() - t1) * 1000
            info: dict[str, Any] = await client.info()
        except (redis.exceptions.RedisError, OSError) as exc:
            raise CheckError(f"{target}: {_reason(exc, password)}") from None
        finally:
            with contextlib.suppress(redis.exceptions.RedisError, OSError):
                await client.aclose()

        obs = Observation(summary=f"connect {connect_ms:.1f} ms, ping {ping_ms:.1f} ms")
        obs.measure("connect_ms", round(connect_ms, 3), "ms")
        obs.measure("ping_ms", round(ping_ms, 3), "ms")
        used = _int(info, "used_memory")
        max_memory = _int(info, "maxmemory")
        obs.measure("memory_used_bytes", used, "bytes")
        if max_memory:
            obs.measure("memory_max_bytes", max_memory, "bytes")
            if used is not None:
                obs.measure("memory_used_pct", round(100.0 * used / max_memory, 2), "%")
        else:
            obs.detail["maxmemory"] = "not set (no limit): memory_used_pct is not measured"
        obs.measure("connected_clients", _int(info, "connected_clients"))
        obs.measure("clients_max", _int(info, "maxclients"))
        obs.measure("blocked_clients", _int(info, "blocked_clients"))
        evicted = _int(info, "evicted_keys")
        obs.measure("evicted_keys", evicted)
        run_id = str(info.get("run_id", ""))
        previous = memo if isinstance(memo, dict) else {}
        before = previous.get("evicted_keys")
        if evicted is not None and isinstance(before, int | float):
            # A restarted server (new run_id, or a counter that went down) counts from zero again.
            restarted = previous.get("run_id") != run_id or evicted < before
            obs.measure("evicted_keys_delta", evicted if restarted else evicted - int(before))
        obs.memo = {"evicted_keys": evicted, "run_id": run_id}
        obs.detail.update(
            {
                "target": target,
                "tls": urlsplit(raw).scheme == "rediss",
                "redis_version": str(info.get("redis_version", "")),
                "role": str(info.get("role", "")),
                "maxmemory_policy": str(info.get("maxmemory_policy", "")),
                "uptime_seconds": _int(info, "uptime_in_seconds"),
            }
        )
        if max_memory and used is not None:
            obs.summary += f", memory {100.0 * used / max_memory:.1f}%"
        return obs
