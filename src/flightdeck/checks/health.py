"""Reading per-component status from ``/health`` and ``/ready`` responses.

Three common formats are understood:

``spring``
    Spring Boot actuator: ``{"status": "UP", "components": {"db": {"status": "UP"}}}``, components
    nested to any depth (reported by their leaves, named ``db.primary``); ``details`` (Spring Boot
    2.0/2.1) is read like ``components``.
``ietf``
    The IETF draft "Health Check Response Format for HTTP APIs" (``application/health+json``):
    ``{"status": "pass", "checks": {"db:responseTime": [{"status": "pass"}]}}``; a component's state is
    the worst of its entries.
``flat``
    A map of component to status: ``{"db": "ok", "redis": "down"}``, or the same under
    ``components``, ``checks``, ``dependencies``, ``services`` or ``details``, with values that are
    status words, booleans or objects with a ``status``.

``auto`` recognises the first two by their shape anywhere, and ``flat`` only when the URL's last path
segment names a health endpoint (``health``, ``healthz``, ``ready``, ``readyz``, ``live``, ``status``,
...), so that an ordinary API answer is never taken for a health report.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import JsonValue

__all__ = ["Component", "ComponentState", "HealthFormat", "HealthReport", "measurement_name", "parse_health"]


class HealthFormat(enum.StrEnum):
    AUTO = "auto"
    OFF = "off"
    SPRING = "spring"
    IETF = "ietf"
    FLAT = "flat"


class ComponentState(enum.StrEnum):
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        return {"up": 0, "unknown": 1, "degraded": 2, "down": 3}[self.value]


_WORDS: dict[str, ComponentState] = {}
for _state, _words in (
    (
        ComponentState.UP,
        "up ok okay pass passed passing healthy green available online ready alive live success good "
        "operational serving running true",
    ),
    (ComponentState.DEGRADED, "warn warning degraded yellow partial partially_available"),
    (
        ComponentState.DOWN,
        "down fail failed failing failure error unhealthy red ko critical unavailable offline "
        "out_of_service outofservice not_serving not_ready notready dead bad false stopped",
    ),
    (ComponentState.UNKNOWN, "unknown"),
):
    for _word in _words.split():
        _WORDS[_word] = _state

_SPRING_WORDS = {"UP", "DOWN", "OUT_OF_SERVICE", "UNKNOWN"}
_CONTAINERS = ("components", "checks", "dependencies", "services", "details")
_METADATA = {
    "status", "version", "description", "message", "msg", "service", "serviceid", "service_id",
    "releaseid", "release_id", "time", "timestamp", "uptime", "notes", "output", "links", "host",
    "hostname", "name", "build", "commit", "environment", "env", "region", "instance",
}  # fmt: skip
_HEALTH_SEGMENT = re.compile(
    r"^_?(health|healthz|healthcheck|health-check|health_check|ready|readyz|readiness|live|livez|"
    r"liveness|status|ping|heartbeat)(\.json)?$",
    re.IGNORECASE,
)
_MAX_OUTPUT = 200
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:\-]")


@dataclass(frozen=True)
class Component:
    name: str
    state: ComponentState
    raw_status: str
    output: str | None = None

    def to_detail(self) -> dict[str, JsonValue]:
        detail: dict[str, JsonValue] = {"status": self.raw_status, "state": self.state.value}
        if self.output:
            detail["output"] = self.output
        return detail


@dataclass(frozen=True)
class HealthReport:
    format: HealthFormat
    state: ComponentState | None  # the overall status, when the document states one
    raw_status: str | None
    components: list[Component] = field(default_factory=list)

    def in_state(self, state: ComponentState) -> list[Component]:
        return [c for c in self.components if c.state is state]

    def to_detail(self) -> dict[str, JsonValue]:
        return {
            "format": self.format.value,
            "status": self.raw_status,
            "components": {c.name: c.to_detail() for c in self.components},
        }


def measurement_name(component: str) -> str:
    """``component_up.<name>``, with characters a condition cannot name replaced by ``_``."""
    return "component_up." + _UNSAFE.sub("_", component)


def state_of(value: JsonValue) -> tuple[ComponentState, str] | None:
    """A status word or boolean → (state, how it was written); ``None`` if it is neither."""
    if isinstance(value, bool):
        return (ComponentState.UP if value else ComponentState.DOWN), str(value).lower()
    if isinstance(value, str):
        key = value.strip().lower().replace(" ", "_").replace("-", "_")
        if key in _WORDS:
            return _WORDS[key], value
    return None


def _output(value: JsonValue) -> str | None:
    if isinstance(value, str) and value.strip():
        text = value.strip()
        return text if len(text) <= _MAX_OUTPUT else text[: _MAX_OUTPUT - 3] + "..."
    return None


def _overall(doc: Mapping[str, JsonValue]) -> tuple[ComponentState | None, str | None]:
    found = state_of(doc.get("status"))
    if found is None:
        raw = doc.get("status")
        return None, (str(raw) if isinstance(raw, str | int | float) else None)
    return found


def _is_health_path(path: str) -> bool:
    segments = [s for s in path.split("/") if s]
    return bool(segments) and _HEALTH_SEGMENT.match(segments[-1]) is not None


# -- formats -------------------------------------------------------------------------------------


def _looks_spring(doc: Mapping[str, JsonValue]) -> bool:
    status = doc.get("status")
    inner = doc.get("components", doc.get("details"))
    return (
        isinstance(status, str)
        and status in _SPRING_WORDS
        and isinstance(inner, dict)
        and bool(inner)
        and all(isinstance(v, dict) and isinstance(v.get("status"), str) for v in inner.values())
    )


def _spring(doc: Mapping[str, JsonValue], prefix: str, out: list[Component]) -> None:
    inner = doc.get("components", doc.get("details"))
    if not isinstance(inner, dict):
        return
    for name, value in inner.items():
        if not isinstance(value, dict) or not isinstance(value.get("status"), str):
            continue
        full = f"{prefix}{name}"
        nested = value.get("components", value.get("details"))
        if isinstance(nested, dict) and any(
            isinstance(v, dict) and isinstance(v.get("status"), str) for v in nested.values()
        ):
            _spring(value, full + ".", out)
            continue
        raw = str(value["status"])
        found = state_of(raw)
        details = value.get("details")
        output = _output(details.get("error")) if isinstance(details, dict) else None
        out.append(Component(full, found[0] if found else ComponentState.UNKNOWN, raw, output))


def _looks_ietf(doc: Mapping[str, JsonValue]) -> bool:
    checks = doc.get("checks")
    return (
        isinstance(checks, dict)
        and bool(checks)
        and all(isinstance(v, list) and all(isinstance(i, dict) for i in v) for v in checks.values())
    )


def _ietf(doc: Mapping[str, JsonValue]) -> list[Component]:
    checks = doc.get("checks")
    out: list[Component] = []
    if not isinstance(checks, dict):
        return out
    for name, entries in checks.items():
        if not isinstance(entries, list):
            continue
        worst: tuple[ComponentState, str] | None = None
        output: str | None = None
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            found = state_of(entry.get("status"))
            if found is None:
                found = (ComponentState.UNKNOWN, str(entry.get("status")))
            if worst is None or found[0].rank > worst[0].rank:
                worst = found
                output = _output(entry.get("output")) or output
        if worst is not None:
            out.append(Component(name, worst[0], worst[1], output))
    return out


def _flat_entry(name: str, value: JsonValue) -> Component | None:
    found = state_of(value)
    if found is not None:
        return Component(name, found[0], found[1])
    if isinstance(value, dict):
        for key in ("status", "state", "health", "healthy", "up", "ok"):
            if key in value:
                found = state_of(value[key])
                if found is not None:
                    output = _output(value.get("output", value.get("message", value.get("error"))))
                    return Component(name, found[0], found[1], output)
    return None


def _flat(doc: Mapping[str, JsonValue]) -> list[Component]:
    for key in _CONTAINERS:
        inner = doc.get(key)
        if isinstance(inner, dict) and inner:
            found = [c for n, v in inner.items() if (c := _flat_entry(n, v)) is not None]
            if found:
                return found
    return [c for n, v in doc.items() if n.lower() not in _METADATA and (c := _flat_entry(n, v)) is not None]


def parse_health(
    document: JsonValue, fmt: HealthFormat, *, url_path: str = "", content_type: str = ""
) -> HealthReport | None:
    """The components a health document reports, or ``None`` when it is not one (or ``fmt`` is off).

    With an explicit format, a document that does not have that shape raises ``ValueError``.
    """
    if fmt is HealthFormat.OFF:
        return None
    if not isinstance(document, dict):
        if fmt is HealthFormat.AUTO:
            return None
        raise ValueError(f"the response is not a {fmt.value} health document (not a JSON object)")
    detected = fmt is HealthFormat.AUTO
    if fmt is HealthFormat.AUTO:
        if _looks_spring(document):
            fmt = HealthFormat.SPRING
        elif _looks_ietf(document):
            fmt = HealthFormat.IETF
        elif "health+json" in content_type.lower() or _is_health_path(url_path):
            fmt = HealthFormat.FLAT
        else:
            return None
    state, raw = _overall(document)
    components: list[Component] = []
    if fmt is HealthFormat.SPRING:
        if not isinstance(document.get("status"), str):
            raise ValueError("the response is not a spring health document (no status)")
        _spring(document, "", components)
    elif fmt is HealthFormat.IETF:
        if not isinstance(document.get("status"), str) and not isinstance(document.get("checks"), dict):
            raise ValueError("the response is not an ietf health document (no status or checks)")
        components = _ietf(document)
    else:
        components = _flat(document)
        if state is None and not components:
            if detected:
                return None
            raise ValueError("the response reports no status and no components")
    return HealthReport(fmt, state, raw, components)
