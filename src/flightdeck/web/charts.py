"""Charts drawn on the server as inline SVG: no JavaScript, no third-party assets.

The plot area is a nested ``<svg>`` with ``preserveAspectRatio="none"`` that stretches to the
page's width; strokes keep their width (``vector-effect="non-scaling-stroke"``) and the axis labels
sit in the outer ``<svg>``, positioned in pixels (vertically) and percentages (horizontally), so a
chart is sharp and readable from a phone to a wide screen. Colours come from the stylesheet
(classes), so dark and light themes apply.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from markupsafe import Markup, escape

from flightdeck.web.format import fmt_time, fmt_value

__all__ = ["ChartPoint", "nice_ticks", "sparkline", "time_chart"]

_W = 1000.0  # plot width in viewBox units (stretched to the page)
_PLOT_H = 170.0  # plot height in pixels (not stretched)
_TOP = 14.0  # room above the top gridline for its label
_AXIS_H = 22.0  # room below the plot for time labels
_NS = 'xmlns="http://www.w3.org/2000/svg"'
_NSS = 'vector-effect="non-scaling-stroke"'


@dataclass(frozen=True)
class ChartPoint:
    """One step of a chart: the values of the runs in [start, start + step)."""

    start: datetime
    value: float | None  # mean
    low: float | None = None  # min
    high: float | None = None  # max
    p95: float | None = None
    runs: int = 0
    failures: int = 0  # fail + error among the runs


def _f(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def nice_ticks(lo: float, hi: float, count: int = 4, unit: str = "") -> list[float]:
    """Round tick values covering [lo, hi]: about ``count`` steps of 1, 2 or 5 × 10ⁿ (of KiB, MiB,
    GiB for bytes, so the labels come out round)."""
    if unit in ("bytes", "B", "byte"):
        top = max(abs(lo), abs(hi))
        scale = next((1024.0**k for k in (4, 3, 2, 1) if top >= 1024.0**k), 1.0)
        return [t * scale for t in nice_ticks(lo / scale, hi / scale, count)]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    t = start
    while t < hi + step * 0.999:
        ticks.append(round(t, 12))
        t += step
    return ticks


def sparkline(values: Sequence[float | None], label: str = "") -> Markup:
    """A small line of hourly means (``None`` leaves a gap); empty when there is nothing to draw."""
    known = [v for v in values if v is not None]
    if not known:
        return Markup('<span class="spark-empty" title="no runs">—</span>')
    top = max(known) * 1.1 or 1.0
    n = len(values)
    width = 100.0 / max(1, n)
    segments: list[list[str]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            if segments[-1]:
                segments.append([])
            continue
        y = 23.0 - (v / top) * 21.0
        segments[-1].append(f"{_f((i + 0.5) * width)},{_f(y)}")
    # A lone point (an hour between gaps) is drawn as a short dash across its hour.
    drawn = [_widen(s, width) if len(s) == 1 else s for s in segments if s]
    lines = "".join(f'<polyline class="spark-line" points="{" ".join(s)}" {_NSS}/>' for s in drawn)
    title = escape(label) if label else "latency, hourly means over 24 h"
    # Every text put in the SVG is escaped above; the rest is numbers and fixed markup.
    return Markup(  # noqa: S704
        f'<svg class="spark" {_NS} viewBox="0 0 100 24" preserveAspectRatio="none" role="img" '
        f'aria-label="{title}"><title>{title}</title>{lines}</svg>'
    )


def _widen(points: list[str], width: float) -> list[str]:
    x, y = (float(v) for v in points[0].split(","))
    return [f"{_f(x - width / 2)},{_f(y)}", f"{_f(x + width / 2)},{_f(y)}"]


def _time_ticks(since: datetime, until: datetime) -> tuple[list[datetime], str]:
    span = (until - since).total_seconds()
    choices = (
        (300, "%H:%M"),
        (900, "%H:%M"),
        (3600, "%H:%M"),
        (3 * 3600, "%H:%M"),
        (6 * 3600, "%H:%M"),
        (12 * 3600, "%b %d %H:%M"),
        (86400, "%b %d"),
        (2 * 86400, "%b %d"),
        (5 * 86400, "%b %d"),
        (7 * 86400, "%b %d"),
    )
    seconds, fmt = next((c for c in choices if span / c[0] <= 6), choices[-1])
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    first = epoch + timedelta(seconds=math.ceil((since - epoch).total_seconds() / seconds) * seconds)
    ticks = []
    when = first
    while when < until:
        ticks.append(when)
        when += timedelta(seconds=seconds)
    return ticks, fmt


def time_chart(
    points: Sequence[ChartPoint],
    since: datetime,
    until: datetime,
    step_seconds: int,
    unit: str = "",
    label: str = "",
    zero_based: bool = True,
) -> Markup:
    """A line chart of means over time, with the min–max band, an optional p95 line and a mark at
    the bottom for every step where a run failed. Hover a step for its figures."""
    span = max(1.0, (until - since).total_seconds())
    height = _TOP + _PLOT_H + _AXIS_H
    title = escape(label or "chart")
    head = (
        f'<svg class="chart" {_NS} width="100%" height="{_f(height)}" role="img" aria-label="{title}">'
        f"<title>{title}</title>"
    )
    known = [p for p in points if p.value is not None]
    if not known:
        return Markup(  # noqa: S704 - fixed markup and an escaped title
            head + f'<text class="chart-empty" x="50%" y="{_f(height / 2)}" text-anchor="middle">'
            "No runs in this range</text></svg>"
        )
    values = [p.value for p in known if p.value is not None] + [p.p95 for p in known if p.p95 is not None]
    lows = [p.low for p in known if p.low is not None]
    lo = min([*values, *lows])
    hi = max(values)
    lo = 0.0 if zero_based and lo >= 0 else lo
    ticks = nice_ticks(lo, hi * 1.05 if hi > 0 else hi + 1, unit=unit)
    y_lo, y_hi = ticks[0], ticks[-1]

    def y(v: float) -> float:
        v = min(max(v, y_lo), y_hi)
        return _TOP + _PLOT_H - (v - y_lo) / (y_hi - y_lo) * _PLOT_H

    def x(t: datetime) -> float:
        return (t - since).total_seconds() / span * _W

    step = timedelta(seconds=max(1, step_seconds))
    parts: list[str] = []
    for t in ticks:
        parts.append(f'<line class="grid" x1="0" x2="{_W:.0f}" y1="{_f(y(t))}" y2="{_f(y(t))}" {_NSS}/>')
    # Runs of consecutive points (a gap longer than 1.5 steps breaks the line and the band).
    runs: list[list[ChartPoint]] = []
    prev: ChartPoint | None = None
    for p in known:
        if prev is None or (p.start - prev.start) > step * 1.5:
            runs.append([])
        runs[-1].append(p)
        prev = p
    for run in runs:
        if all(p.low is not None and p.high is not None for p in run):
            upper = [
                f"{_f(x(p.start))},{_f(y(p.high or 0))} {_f(x(p.start + step))},{_f(y(p.high or 0))}"
                for p in run
            ]
            lower = [
                f"{_f(x(p.start + step))},{_f(y(p.low or 0))} {_f(x(p.start))},{_f(y(p.low or 0))}"
                for p in reversed(run)
            ]
            parts.append(f'<polygon class="band" points="{" ".join(upper + lower)}"/>')
        if len(run) == 1:
            p = run[0]
            mean = f"{_f(x(p.start))},{_f(y(p.value or 0))} {_f(x(p.start + step))},{_f(y(p.value or 0))}"
        else:
            mean = " ".join(f"{_f(x(p.start + step / 2))},{_f(y(p.value or 0))}" for p in run)
        parts.append(f'<polyline class="line" points="{mean}" {_NSS}/>')
        p95 = [p for p in run if p.p95 is not None]
        if len(p95) > 1:
            pts = " ".join(f"{_f(x(p.start + step / 2))},{_f(y(p.p95 or 0))}" for p in p95)
            parts.append(f'<polyline class="line-p95" points="{pts}" {_NSS}/>')
    for p in points:
        x0, width = x(p.start), max(1.0, x(p.start + step) - x(p.start))
        if p.failures:
            parts.append(
                f'<rect class="fail-mark" x="{_f(x0)}" y="{_f(_TOP + _PLOT_H - 6)}" '
                f'width="{_f(width)}" height="6"/>'
            )
        if p.runs or p.value is not None:
            tip = f"{fmt_time(p.start)}: mean {fmt_value(p.value, unit)}"
            if p.p95 is not None:
                tip += f", p95 {fmt_value(p.p95, unit)}"
            if p.low is not None and p.high is not None:
                tip += f", min {fmt_value(p.low, unit)}, max {fmt_value(p.high, unit)}"
            if p.runs:
                tip += f"; {p.runs} run{'s' if p.runs != 1 else ''}"
            if p.failures:
                tip += f", {p.failures} failed"
            parts.append(
                f'<rect class="hit" x="{_f(x0)}" y="{_f(_TOP)}" width="{_f(width)}" height="{_f(_PLOT_H)}">'
                f"<title>{escape(tip)}</title></rect>"
            )
    plot = (
        f'<svg class="plot" x="0" y="0" width="100%" height="{_f(_TOP + _PLOT_H)}" '
        f'viewBox="0 0 {_W:.0f} {_f(_TOP + _PLOT_H)}" preserveAspectRatio="none">{"".join(parts)}</svg>'
    )
    labels: list[str] = []
    for t in ticks[1:]:
        labels.append(f'<text class="tick" x="4" y="{_f(y(t) - 3)}">{escape(fmt_value(t, unit))}</text>')
    times, fmt = _time_ticks(since, until)
    base = _TOP + _PLOT_H
    for tick in times:
        pct = (tick - since).total_seconds() / span * 100
        anchor = "start" if pct < 4 else "end" if pct > 96 else "middle"
        labels.append(
            f'<line class="axis-tick" x1="{_f(pct)}%" x2="{_f(pct)}%" y1="{_f(base)}" y2="{_f(base + 4)}"/>'
            f'<text class="tick" x="{_f(pct)}%" y="{_f(base + 16)}" text-anchor="{anchor}">'
            f"{tick.strftime(fmt)}</text>"
        )
    axis = f'<line class="axis" x1="0" x2="100%" y1="{_f(base)}" y2="{_f(base)}"/>'
    return Markup(head + plot + axis + "".join(labels) + "</svg>")  # noqa: S704 - texts escaped above
