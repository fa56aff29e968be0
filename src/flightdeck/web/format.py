"""How numbers, times and names are shown in the cockpit (also Jinja filters)."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

__all__ = [
    "ago",
    "fmt_duration_ms",
    "fmt_latencies",
    "fmt_number",
    "fmt_ratio",
    "fmt_time",
    "fmt_value",
    "humanize",
    "unit_of",
]

_SUFFIXES = (
    ("_per_second", "per s"),
    ("_per_s", "per s"),
    ("_per_hour", "per hour"),
    ("_per_h", "per hour"),
    ("_1h", "(1 h)"),
    ("_24h", "(24 h)"),
    ("_ms", ""),
    ("_seconds", ""),
    ("_bytes", ""),
    ("_pct", ""),
    ("_percent", ""),
    ("_ratio", ""),
    ("_total", ""),
    ("_count", ""),
)


def fmt_number(value: float, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, with k / M / G above 10,000."""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    a = abs(value)
    for threshold, size, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if a >= threshold:
            return f"{value / size:.{digits}g}{suffix}"
    if a >= 10 ** (digits - 1) or value == int(value):
        return f"{value:,.0f}" if a >= 1000 else f"{value:.0f}"
    return f"{value:.{digits}g}"


def fmt_latencies(p50: float | None, p95: float | None, p99: float | None) -> str:
    """Three percentiles in one unit: ``13 · 21.3 · 22.6 ms`` (or seconds when p99 reaches 1 s)."""
    if p50 is None or p95 is None or p99 is None:
        return "—"
    if p99 >= 1000:
        return " · ".join(f"{v / 1000:.3g}" for v in (p50, p95, p99)) + " s"
    return " · ".join(f"{v:.2f}" if v < 1 else f"{v:.3g}" for v in (p50, p95, p99)) + " ms"


def fmt_duration_ms(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 1:
        return f"{value:.2f} ms"
    if value < 1000:
        return f"{value:.3g} ms"
    if value < 60_000:
        return f"{value / 1000:.3g} s"
    return f"{value / 60_000:.3g} min"


def _bytes(value: float) -> str:
    a = abs(value)
    for size, suffix in ((1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if a >= size:
            return f"{value / size:.3g} {suffix}"
    return f"{value:.0f} B"


def unit_of(name: str, unit: str) -> str:
    """The unit to format with: the measurement's own, else guessed from its name's suffix."""
    if unit:
        return unit
    for suffix, guess in (("_ms", "ms"), ("_bytes", "bytes"), ("_pct", "%"), ("_ratio", "ratio")):
        if name.endswith(suffix):
            return guess
    if name.endswith(("_seconds", "_s")):
        return "s"
    return ""


def fmt_value(value: float | None, unit: str = "") -> str:
    """A measurement with its unit: ``12.3 ms``, ``1.5 GiB``, ``0.42 %``, ``3.1/s``."""
    if value is None:
        return "—"
    u = unit.strip()
    if u == "ms":
        return fmt_duration_ms(value)
    if u in ("s", "seconds"):
        return fmt_duration_ms(value * 1000)
    if u in ("bytes", "B", "byte"):
        return _bytes(value)
    if u in ("%", "pct", "percent"):
        return f"{fmt_number(value)} %"
    if u == "ratio":
        return f"{fmt_number(value * 100)} %"
    if u in ("1/s", "/s", "per_s", "rps", "req/s"):
        return f"{fmt_number(value)}/s"
    if u in ("1/h", "/h", "per_h", "per_hour"):
        return f"{fmt_number(value)}/h"
    return f"{fmt_number(value)} {u}".rstrip()


def fmt_ratio(value: float | None) -> str:
    """An uptime ratio as a percentage with enough digits to tell 99.9 from 99.99."""
    if value is None:
        return "—"
    pct = value * 100
    if pct >= 100:
        return "100 %"
    if pct >= 99:
        return f"{math.floor(pct * 100) / 100:.2f} %"
    return f"{math.floor(pct * 10) / 10:.1f} %"


def fmt_time(when: datetime | None) -> str:
    if when is None:
        return "—"
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(when: datetime | None, now: datetime) -> str:
    """``42 s ago``, ``5 min ago``, ``3 h ago``, ``2 d ago``; ``in 20 s`` for the future."""
    if when is None:
        return "never"
    seconds = (now - when).total_seconds()
    future = seconds < 0
    s = abs(seconds)
    if s < 1:
        return "now"
    if s < 90:
        text = f"{s:.0f} s"
    elif s < 90 * 60:
        text = f"{s / 60:.0f} min"
    elif s < 36 * 3600:
        text = f"{s / 3600:.0f} h"
    else:
        text = f"{s / 86400:.0f} d"
    return f"in {text}" if future else f"{text} ago"


def humanize(name: str) -> str:
    """A title from a snake_case or kebab-case name.

    ``failed_payments_per_hour`` → ``Failed payments per hour``; ``latency_ms`` → ``Latency``.
    """
    base = name
    for suffix, words in _SUFFIXES:
        if base.endswith(suffix) and len(base) > len(suffix):
            base = base[: -len(suffix)] + (f" {words}" if words else "")
            break
    text = re.sub(r"[_\-.]+", " ", base).strip()
    return text[:1].upper() + text[1:] if text else name
