"""``http``: does a URL answer as expected, and how fast?

One request on a fresh connection; the expectations under ``expect`` (status set, latency, body,
headers, JSON assertions, health components) become failures, and the user's conditions are
evaluated on the measurements.

Measurements: ``status_code``, ``latency_ms``, ``dns_ms``, ``connect_ms``, ``ttfb_ms``,
``body_bytes``, ``redirects``, ``tls_version`` (https), and for health documents ``health_up``,
``components_down`` and ``component_up.<name>``.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, JsonValue, PlainSerializer, WithJsonSchema, model_validator

from flightdeck.checks.base import Check, Observation, register
from flightdeck.checks.health import (
    ComponentState,
    HealthFormat,
    HealthReport,
    measurement_name,
    parse_health,
)
from flightdeck.checks.httpclient import HttpResponse, fetch, shared_ssl_context
from flightdeck.checks.jsonassert import JsonAssertionField
from flightdeck.checks.request import RequestSpec, public_url
from flightdeck.config.base import ConfigModel
from flightdeck.config.types import Duration, format_duration

__all__ = ["HeaderExpectation", "HttpCheck", "HttpExpect", "HttpSpec", "StatusSet", "tls_version_number"]

MAX_BODY_LIMIT = 10_000_000
_EXCERPT = 500
_TLS_NUMBERS = {"TLSv1": 1.0, "TLSv1.1": 1.1, "TLSv1.2": 1.2, "TLSv1.3": 1.3, "SSLv3": 0.3}


def tls_version_number(name: str | None) -> float | None:
    """``"TLSv1.3"`` → ``1.3``."""
    return _TLS_NUMBERS.get(name or "")


# -- status set ----------------------------------------------------------------------------------

_CLASS = re.compile(r"^([1-5])xx$", re.IGNORECASE)


def _status_item(value: Any) -> str:
    if isinstance(value, bool):
        raise ValueError("must be 100–599")
    if isinstance(value, int):
        if not 100 <= value <= 599:
            raise ValueError("must be 100–599")
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return _status_item(int(text))
        m = _CLASS.match(text)
        if m:
            return f"{m[1]}xx"
    raise ValueError(f"must be a status code (100–599) or a class such as 2xx (got {value!r})")


def _status_set(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list | tuple) else [value]
    if not items:
        raise ValueError("must list at least one status code or class")
    return tuple(dict.fromkeys(_status_item(v) for v in items))


StatusSet = Annotated[
    tuple[str, ...],
    BeforeValidator(_status_set),
    PlainSerializer(list, return_type=list[str]),
    WithJsonSchema({"type": "array", "items": {"type": ["integer", "string"]}}),
]
"""Status codes (``200``) and classes (``2xx``); a single value or a list."""


def status_matches(status: int, allowed: tuple[str, ...]) -> bool:
    return any(str(status) == a or (a.endswith("xx") and str(status)[0] == a[0]) for a in allowed)


def _regex(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a regular expression (a string)")
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    return value


Regex = Annotated[str, BeforeValidator(_regex)]


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


# -- expectations --------------------------------------------------------------------------------


class HeaderExpectation(ConfigModel):
    """One response header: a plain string means ``equals``; or exactly one of the keys below."""

    equals: str | None = None
    contains: str | None = None
    matches: Regex | None = None
    present: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"equals": data}
        if isinstance(data, bool):
            return {"present": data}
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> HeaderExpectation:
        given = [k for k in ("equals", "contains", "matches", "present") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of equals, contains, matches or present")
        return self

    def violation(self, name: str, values: list[str]) -> str:
        """Empty when the response's values of header ``name`` meet the expectation."""
        if self.present is not None:
            if self.present and not values:
                return f"header {name} is missing"
            if not self.present and values:
                return f"header {name} is present"
            return ""
        if not values:
            return f"header {name} is missing"
        value = ", ".join(v.strip() for v in values)
        shown = value if len(value) <= 100 else value[:97] + "..."
        if self.equals is not None and value != self.equals.strip():
            return f"header {name} is {shown!r}, expected {self.equals!r}"
        if self.contains is not None and self.contains not in value:
            return f"header {name} is {shown!r}, expected it to contain {self.contains!r}"
        if self.matches is not None and not re.search(self.matches, value):
            return f"header {name} is {shown!r}, expected it to match {self.matches!r}"
        return ""


class HttpExpect(ConfigModel):
    """What the response must be like. Each expectation that does not hold is a failure."""

    status: StatusSet = Field(
        default=("2xx",), description="Accepted status codes and classes, e.g. [200, 204] or [2xx, 301]"
    )
    max_latency: Duration | None = Field(default=None, description="Fail when the response took longer")
    body_contains: Annotated[list[str], BeforeValidator(_one_or_many)] = Field(
        default_factory=list, description="Texts the body must contain"
    )
    body_not_contains: Annotated[list[str], BeforeValidator(_one_or_many)] = Field(
        default_factory=list, description="Texts the body must not contain"
    )
    body_matches: Annotated[list[Regex], BeforeValidator(_one_or_many)] = Field(
        default_factory=list, description="Regular expressions the body must match (re.search)"
    )
    headers: dict[str, HeaderExpectation] = Field(
        default_factory=dict, description="Response header expectations, by header name"
    )
    json_assertions: list[JsonAssertionField] = Field(
        default_factory=list,
        alias="json",
        description="JSON assertions such as \"$.status == 'ok'\" (the body must be JSON)",
    )
    components: Annotated[list[str], BeforeValidator(_one_or_many)] = Field(
        default_factory=list, description="Health components that must be reported (and be up)"
    )
    components_up: bool = Field(
        default=True, description="Fail when a health document reports a component down"
    )


class HttpSpec(RequestSpec):
    """An HTTP request and what its response must be like."""

    kind: Literal["http"]
    follow_redirects: bool = Field(default=True, description="Follow 3xx redirects")
    max_redirects: int = Field(default=10, ge=1, le=30, description="Give up after this many redirects")
    max_body_bytes: int = Field(
        default=1_000_000, ge=0, le=MAX_BODY_LIMIT, description="Read at most this much of the body"
    )
    health: HealthFormat = Field(
        default=HealthFormat.AUTO,
        description="Read per-component status: auto, spring, ietf, flat or off",
    )
    expect: HttpExpect = Field(default_factory=HttpExpect)

    @model_validator(mode="after")
    def _components_need_health(self) -> HttpSpec:
        if self.expect.components and self.health is HealthFormat.OFF:
            raise ValueError("expect.components needs health to be on (auto, spring, ietf or flat)")
        return self


# -- the check -----------------------------------------------------------------------------------


@register
class HttpCheck(Check[HttpSpec]):
    spec_type = HttpSpec

    async def observe(self, memo: JsonValue) -> Observation:
        spec = self.spec
        ssl_ctx = None
        if urlsplit(spec.url).scheme == "https":
            ssl_ctx = shared_ssl_context(self.context, spec.verify_tls, spec.ca_file)
        resp = await fetch(
            self.context,
            spec.url,
            spec.method.value,
            headers=spec.request_headers(),
            data=spec.request_body(),
            ssl_ctx=ssl_ctx,
            follow_redirects=spec.follow_redirects,
            max_redirects=spec.max_redirects,
            max_body=spec.max_body_bytes,
        )
        obs = Observation()
        self._measure(obs, resp)
        obs.detail["request"] = spec.request_detail()
        obs.detail["response"] = _response_detail(resp)
        if resp.history:
            obs.detail["redirects"] = [
                {"status": h.status, "url": public_url(h.url), "location": h.location} for h in resp.history
            ]
        self._expectations(obs, resp)
        obs.summary = f"{resp.status} {resp.reason} in {resp.timings.total_ms:.1f} ms".replace("  ", " ")
        if obs.failures or obs.warnings:
            obs.detail["body_excerpt"] = resp.text()[:_EXCERPT]
        return obs

    def _measure(self, obs: Observation, resp: HttpResponse) -> None:
        t = resp.timings
        obs.measure("status_code", resp.status)
        obs.measure("latency_ms", round(t.total_ms, 3), "ms")
        obs.measure("dns_ms", None if t.dns_ms is None else round(t.dns_ms, 3), "ms")
        obs.measure("connect_ms", None if t.connect_ms is None else round(t.connect_ms, 3), "ms")
        obs.measure("ttfb_ms", None if t.ttfb_ms is None else round(t.ttfb_ms, 3), "ms")
        obs.measure("body_bytes", len(resp.body), "bytes")
        obs.measure("redirects", len(resp.history))
        obs.measure("tls_version", tls_version_number(resp.tls_version))

    def _expectations(self, obs: Observation, resp: HttpResponse) -> None:
        expect = self.spec.expect
        if not status_matches(resp.status, expect.status):
            obs.failures.append(f"status {resp.status} not in [{', '.join(expect.status)}]")
        if expect.max_latency is not None and resp.timings.total_ms > expect.max_latency * 1000:
            limit = format_duration(expect.max_latency)
            obs.failures.append(f"latency {resp.timings.total_ms:.0f} ms above max_latency {limit}")
        if expect.body_contains or expect.body_not_contains or expect.body_matches:
            text = resp.text()
            for needle in expect.body_contains:
                if needle not in text:
                    obs.failures.append(f"body does not contain {needle!r}")
            for needle in expect.body_not_contains:
                if needle in text:
                    obs.failures.append(f"body contains {needle!r}")
            for pattern in expect.body_matches:
                if not re.search(pattern, text):
                    obs.failures.append(f"body does not match {pattern!r}")
            if resp.body_truncated:
                obs.detail["body_truncated_at"] = len(resp.body)
        for name, header in expect.headers.items():
            problem = header.violation(name, resp.header_all(name))
            if problem:
                obs.failures.append(problem)

        document, json_problem = _json_document(resp)
        if expect.json_assertions:
            if json_problem:
                obs.failures.append(json_problem)
            else:
                results = [a.evaluate(document) for a in expect.json_assertions]
                obs.detail["json_assertions"] = [r.to_detail() for r in results]
                obs.failures.extend(f"{r.assertion}: {r.reason}" for r in results if not r.ok)
        self._health(obs, resp, document if not json_problem else None, json_problem)

    def _health(self, obs: Observation, resp: HttpResponse, document: JsonValue, json_problem: str) -> None:
        spec = self.spec
        explicit = spec.health not in (HealthFormat.AUTO, HealthFormat.OFF)
        if json_problem:
            if (explicit or spec.expect.components) and json_problem not in obs.failures:
                obs.failures.append(json_problem)
            return
        try:
            report = parse_health(
                document,
                spec.health,
                url_path=urlsplit(resp.url).path,
                content_type=resp.header("Content-Type") or "",
            )
        except ValueError as exc:
            obs.failures.append(str(exc))
            return
        if report is None:
            if spec.expect.components:
                obs.failures.append(
                    "the response is not a recognised health document (set health: spring, ietf or flat)"
                )
            return
        _health_outcome(obs, report, spec.expect)


def _health_outcome(obs: Observation, report: HealthReport, expect: HttpExpect) -> None:
    obs.detail["health"] = report.to_detail()
    if report.state in (ComponentState.UP, ComponentState.DEGRADED):
        obs.measure("health_up", 1)
    elif report.state is ComponentState.DOWN:
        obs.measure("health_up", 0)
    for component in report.components:
        if component.state in (ComponentState.UP, ComponentState.DEGRADED):
            obs.measure(measurement_name(component.name), 1)
        elif component.state is ComponentState.DOWN:
            obs.measure(measurement_name(component.name), 0)
    down = report.in_state(ComponentState.DOWN)
    obs.measure("components_down", len(down))
    reported = {c.name for c in report.components}
    missing = [name for name in expect.components if name not in reported]
    if missing:
        obs.failures.append(f"components not reported: {', '.join(missing)}")
    must_be_up = [c for c in down if expect.components_up or c.name in expect.components]
    if must_be_up:
        obs.failures.append(f"components down: {', '.join(_named(c.name, c.output) for c in must_be_up)}")
    elif report.state is ComponentState.DOWN and expect.components_up:
        obs.failures.append(f"health status is {report.raw_status}")
    degraded = report.in_state(ComponentState.DEGRADED)
    if degraded:
        obs.warnings.append(f"components degraded: {', '.join(c.name for c in degraded)}")
    unknown = [c for c in report.in_state(ComponentState.UNKNOWN) if c.name in expect.components]
    if unknown:
        obs.failures.append(f"components in unknown state: {', '.join(c.name for c in unknown)}")


def _named(name: str, output: str | None) -> str:
    return f"{name} ({output})" if output else name


def _json_document(resp: HttpResponse) -> tuple[JsonValue, str]:
    """The parsed body, or an explanation of why it is not JSON (empty when it is)."""
    if resp.body_truncated:
        return None, f"response body is larger than {len(resp.body)} bytes; cannot read it as JSON"
    if not resp.body.strip():
        return None, "response body is empty, not JSON"
    try:
        document: JsonValue = json.loads(resp.body)
    except (ValueError, UnicodeDecodeError):
        snippet = resp.body[:60].decode("utf-8", errors="replace")
        ctype = resp.header("Content-Type") or "no Content-Type"
        return None, f"response is not JSON ({ctype}): {snippet!r}"
    return document, ""


_HIDDEN_RESPONSE_HEADERS = {"set-cookie", "authorization", "proxy-authorization", "www-authenticate"}


def _response_detail(resp: HttpResponse) -> dict[str, JsonValue]:
    headers: dict[str, JsonValue] = {}
    for name in dict.fromkeys(k.lower() for k in resp.headers):
        values = resp.header_all(name)
        if name == "set-cookie":
            # Cookie values are the service's secrets: keep the names only.
            headers[name] = [v.split("=", 1)[0].strip() + "=…" for v in values]
        elif name in _HIDDEN_RESPONSE_HEADERS:
            headers[name] = "…"
        else:
            headers[name] = values[0] if len(values) == 1 else list(values)
    detail: dict[str, JsonValue] = {
        "status": resp.status,
        "reason": resp.reason,
        "url": public_url(resp.url),
        "headers": headers,
        "body_bytes": len(resp.body),
        "timings_ms": {
            "dns": _ms(resp.timings.dns_ms),
            "connect": _ms(resp.timings.connect_ms),
            "ttfb": _ms(resp.timings.ttfb_ms),
            "total": _ms(resp.timings.total_ms),
        },
    }
    if resp.tls_version:
        detail["tls_version"] = resp.tls_version
    if resp.body_truncated:
        detail["body_truncated"] = True
    return detail


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
