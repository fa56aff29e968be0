"""``tls``: is the certificate a host serves valid, for how long, and is the protocol modern enough?

Two handshakes, because Python 3.11 cannot return the verified chain of a connection whose
verification failed:

1. an unverified one, which accepts whatever the server sends, to read the negotiated protocol and
   cipher and the **leaf** certificate (its expiry is what ``days_to_expiry`` reports, even when an
   intermediate expires earlier: that is ``chain_min_days_to_expiry``);
2. a verified one, against the system's roots or ``ca_file``, whose success or error message decides
   ``chain_valid``. Host name matching is done separately on the leaf, so a chain problem and a name
   problem are each reported for what they are.

Measurements: ``days_to_expiry``, ``handshake_ms``, ``connect_ms``, ``chain_valid``,
``hostname_match``, ``protocol_version`` (e.g. 1.3) and, when the interpreter exposes the served
chain, ``chain_min_days_to_expiry``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import ipaddress
import ssl
import time
import warnings
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, JsonValue, field_validator, model_validator

from flightdeck.checks.base import Check, Observation, register
from flightdeck.checks.certinfo import CertInfo, hostname_matches, served_chain, verified_chain
from flightdeck.checks.errors import describe_os_error
from flightdeck.config.check_spec import CheckSpec
from flightdeck.config.types import ReadableFile
from flightdeck.errors import CheckError

__all__ = ["TlsCheck", "TlsSpec", "TlsVersion"]


class TlsVersion(enum.StrEnum):
    TLS1_0 = "TLSv1"
    TLS1_1 = "TLSv1.1"
    TLS1_2 = "TLSv1.2"
    TLS1_3 = "TLSv1.3"

    @property
    def number(self) -> float:
        return _NUMBERS[self.value]


_NUMBERS = {"SSLv3": 0.3, "TLSv1": 1.0, "TLSv1.1": 1.1, "TLSv1.2": 1.2, "TLSv1.3": 1.3}
_SPELLINGS = {
    "1": "TLSv1", "1.0": "TLSv1", "tls1": "TLSv1", "tls1.0": "TLSv1", "tlsv1": "TLSv1", "tlsv1.0": "TLSv1",
    "1.1": "TLSv1.1", "tls1.1": "TLSv1.1", "tlsv1.1": "TLSv1.1",
    "1.2": "TLSv1.2", "tls1.2": "TLSv1.2", "tlsv1.2": "TLSv1.2",
    "1.3": "TLSv1.3", "tls1.3": "TLSv1.3", "tlsv1.3": "TLSv1.3",
}  # fmt: skip


class TlsSpec(CheckSpec):
    kind: Literal["tls"]
    host: str = Field(description="Host name or address to connect to")
    port: int = Field(default=443, ge=1, le=65535)
    server_name: str | None = Field(
        default=None,
        description="Name sent as SNI and matched against the certificate (default: host, unless host "
        "is an IP address)",
    )
    ca_file: ReadableFile | None = Field(
        default=None, description="PEM file of CA certificates to verify the chain against (default: system)"
    )
    min_version: TlsVersion = Field(
        default=TlsVersion.TLS1_2, description="Fail when the negotiated protocol is older"
    )
    warn_days: float | None = Field(
        default=21, ge=0, description="Warn when the leaf certificate expires within this many days"
    )
    min_days: float | None = Field(
        default=7, ge=0, description="Fail when the leaf certificate expires within this many days"
    )
    check_chain: bool = Field(default=True, description="Fail when the chain does not verify")
    check_hostname: bool = Field(default=True, description="Fail when the certificate does not match")

    @field_validator("min_version", mode="before")
    @classmethod
    def _spelling(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = f"{value:.1f}"
        if isinstance(value, str):
            return _SPELLINGS.get(value.strip().lower().replace(" ", ""), value)
        return value

    @model_validator(mode="after")
    def _thresholds(self) -> TlsSpec:
        if self.warn_days is not None and self.min_days is not None and self.warn_days < self.min_days:
            raise ValueError("warn_days must not be below min_days")
        return self

    @property
    def sni(self) -> str | None:
        if self.server_name:
            return self.server_name
        try:
            ipaddress.ip_address(self.host.strip("[]"))
        except ValueError:
            return self.host
        return None

    @property
    def expected_name(self) -> str:
        return self.server_name or self.host


def _probe_context() -> ssl.SSLContext:
    """Accepts anything, offers everything this OpenSSL can, so what the server picks is seen."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with contextlib.suppress(ValueError, ssl.SSLError), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # offering TLS 1.0 is the point here
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    return ctx


def _verify_context(ca_file: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.check_hostname = False  # matched separately, against the leaf
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


@register
class TlsCheck(Check[TlsSpec]):
    spec_type = TlsSpec

    def _contexts(self) -> tuple[ssl.SSLContext, ssl.SSLContext]:
        ca = str(self.spec.ca_file) if self.spec.ca_file else None
        try:
            probe: ssl.SSLContext = self.context.resource("tls.probe", _probe_context)
            verify: ssl.SSLContext = self.context.resource(
                f"tls.verify:{ca or ''}", lambda: _verify_context(ca)
            )
        except (OSError, ssl.SSLError) as exc:
            raise CheckError(f"cannot load CA certificates from {ca}: {describe_os_error(exc)}") from None
        return probe, verify

    async def _handshake(self, ctx: ssl.SSLContext) -> tuple[asyncio.StreamWriter, float, float]:
        """Connect and shake hands; returns the stream and the connect and handshake times (ms)."""
        spec = self.spec
        where = f"{spec.host}:{spec.port}"
        t0 = time.perf_counter()
        try:
            _reader, writer = await asyncio.open_connection(spec.host, spec.port)
        except OSError as exc:
            raise CheckError(f"{where}: {describe_os_error(exc)}") from None
        t1 = time.perf_counter()
        try:
            await writer.start_tls(ctx, server_hostname=spec.sni)
        except ssl.SSLCertVerificationError:
            writer.close()
            raise
        except ssl.SSLError as exc:
            writer.close()
            raise CheckError(f"{where}: TLS handshake failed: {_ssl_reason(exc)}") from None
        except (OSError, EOFError) as exc:
            writer.close()
            reason = describe_os_error(exc) if isinstance(exc, OSError) else "connection closed by peer"
            raise CheckError(f"{where}: TLS handshake failed: {reason}") from None
        return writer, (t1 - t0) * 1000, (time.perf_counter() - t1) * 1000

    async def observe(self, memo: JsonValue) -> Observation:
        spec = self.spec
        probe_ctx, verify_ctx = self._contexts()
        writer, connect_ms, handshake_ms = await self._handshake(probe_ctx)
        try:
            sslobj: ssl.SSLObject = writer.get_extra_info("ssl_object")
            protocol = sslobj.version() or "unknown"
            cipher = sslobj.cipher()
            der = sslobj.getpeercert(binary_form=True)
            chain = served_chain(sslobj)
        finally:
            await _close(writer)
        if not der:
            raise CheckError(f"{spec.host}:{spec.port}: the server sent no certificate")
        leaf = CertInfo.from_der(der)

        obs = Observation()
        now = self.context.clock.now()
        days = leaf.days_left(now)
        obs.measure("days_to_expiry", round(days, 3), "d")
        obs.measure("handshake_ms", round(handshake_ms, 3), "ms")
        obs.measure("connect_ms", round(connect_ms, 3), "ms")
        obs.measure("protocol_version", _NUMBERS.get(protocol))
        obs.detail.update(
            {
                "host": spec.host,
                "port": spec.port,
                "server_name": spec.sni,
                "protocol": protocol,
                "cipher": cipher[0] if cipher else None,
                "certificate": leaf.to_detail(),
            }
        )
        if chain:
            obs.detail["served_chain"] = [c.summary_detail() for c in chain]
            obs.measure("chain_min_days_to_expiry", round(min(c.days_left(now) for c in chain), 3), "d")

        self._expiry(obs, leaf, days, now)
        self._hostname(obs, leaf)
        await self._chain(obs, verify_ctx)
        version = _NUMBERS.get(protocol)
        if version is None or version < spec.min_version.number:
            obs.failures.append(f"negotiated {protocol}, below min_version {spec.min_version.value}")
        obs.summary = f"{protocol}, certificate valid for {days:.1f} more days"
        return obs

    def _expiry(self, obs: Observation, leaf: CertInfo, days: float, now: datetime) -> None:
        spec = self.spec
        until = leaf.not_after.strftime("%Y-%m-%d %H:%M UTC")
        if days < 0:
            obs.failures.append(f"certificate expired {-days:.1f} days ago ({until})")
        elif spec.min_days is not None and days < spec.min_days:
            obs.failures.append(
                f"certificate expires in {days:.1f} days ({until}), min_days is {spec.min_days:g}"
            )
        elif spec.warn_days is not None and days < spec.warn_days:
            obs.warnings.append(f"certificate expires in {days:.1f} days ({until})")
        if leaf.not_before > now:
            obs.failures.append(
                f"certificate not valid before {leaf.not_before.strftime('%Y-%m-%d %H:%M UTC')}"
            )

    def _hostname(self, obs: Observation, leaf: CertInfo) -> None:
        name = self.spec.expected_name
        match = hostname_matches(leaf, name)
        obs.measure("hostname_match", int(match))
        if not match and self.spec.check_hostname:
            names = ", ".join([*leaf.dns_names, *leaf.ip_addresses]) or "no subjectAltName"
            obs.failures.append(f"certificate does not match {name} (it names {names})")

    async def _chain(self, obs: Observation, ctx: ssl.SSLContext) -> None:
        try:
            writer, _c, _h = await self._handshake(ctx)
        except ssl.SSLCertVerificationError as exc:
            obs.measure("chain_valid", 0)
            reason = exc.verify_message or str(exc.reason)
            obs.detail["chain_error"] = reason
            if self.spec.check_chain:
                obs.failures.append(f"certificate chain is not valid: {reason}")
            return
        except CheckError as exc:
            # The first handshake worked, the second did not: no verdict on the chain.
            obs.detail["chain_error"] = exc.reason
            obs.warnings.append(f"could not verify the chain: {exc.reason}")
            return
        try:
            chain = verified_chain(writer.get_extra_info("ssl_object"))
        finally:
            await _close(writer)
        obs.measure("chain_valid", 1)
        if chain:
            obs.detail["verified_chain"] = [c.summary_detail() for c in chain]


def _ssl_reason(exc: ssl.SSLError) -> str:
    reason = str(exc.reason or exc).lower().replace("_", " ")
    if "unsupported protocol" in reason or "protocol version" in reason or "no protocols" in reason:
        return f"{reason} (the server and this client share no TLS version)"
    if "wrong version number" in reason or "record layer failure" in reason:
        return f"{reason} (is the port speaking TLS?)"
    return reason


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError, asyncio.TimeoutError):
        async with asyncio.timeout(1):
            await writer.wait_closed()
