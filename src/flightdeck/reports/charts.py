"""Horizontal bar charts and trend lines as SVG, for reports (HTML, PDF) and the cockpit alike.

A chart is one row per label with one or more bars (``internal`` and ``statement`` amounts side by
side, say) and the value written after each bar, so the picture never replaces the figure. Colours
are presentation attributes — a standalone report file or a PDF shows them with no stylesheet — and
each shape also carries a class, so the cockpit's stylesheet can recolour it for the dark theme.
The drawing scales with ``viewBox``; every text placed in it is escaped.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["Bar", "BarRow", "BarTone", "TrendPoint", "bar_chart", "trend_chart"]

_NS = 'xmlns="http://www.w3.org/2000/svg"'
_WIDTH = 640.0
_NARROW = 340.0  # width of the narrow layout (labels above the bars)
_LABEL_H = 16.0  # room for a label above its bars, narrow layout
_LABEL_W = 170.0  # room for the row label, left of the bars
_VALUE_W = 130.0  # room for the value text, right of the longest bar
_BAR_H = 14.0
_GAP = 4.0  # between the bars of one row
_ROW_GAP = 10.0  # between rows
_PAD = 6.0


class BarTone(enum.StrEnum):
    """What a bar means, which decides its colour."""

    GOOD = "good"  # matched
    BAD = "bad"  # an exception
    SIDE_A = "side-a"  # internal records
    SIDE_B = "side-b"  # the statement


_FILL = {
    BarTone.GOOD: "#137a3a",
    BarTone.BAD: "#b42318",
    BarTone.SIDE_A: "#2557d6",
    BarTone.SIDE_B: "#8a5a00",
}


@dataclass(frozen=True)
class Bar:
    """One bar: its length comes from ``value`` (its magnitude), its caption is ``text``."""

    value: int
    text: str
    tone: BarTone


@dataclass(frozen=True)
class BarRow:
    label: str
    bars: tuple[Bar, ...]


def _f(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def bar_chart(rows: Sequence[BarRow], label: str, *, narrow: bool = False) -> Markup:
    """An SVG of ``rows``; bars are scaled to the largest magnitude among all of them.

    The default layout puts each row's label left of its bars (reports, A4). ``narrow`` puts it
    above them in a drawing half as wide, which stays legible when a phone shrinks it to fit.
    """
    title = escape(label)
    top = max((abs(b.value) for r in rows for b in r.bars), default=0)
    width = _NARROW if narrow else _WIDTH
    label_w = 0.0 if narrow else _LABEL_W
    label_h = _LABEL_H if narrow else 0.0
    span = width - label_w - _VALUE_W
    parts: list[str] = []
    y = _PAD
    for row in rows:
        row_h = len(row.bars) * _BAR_H + max(0, len(row.bars) - 1) * _GAP
        if narrow:
            lx, ly, anchor = 0.0, y + 11, "start"
        else:
            lx, ly, anchor = label_w - 8, y + row_h / 2 + 4, "end"
        parts.append(
            f'<text class="bar-label" x="{_f(lx)}" y="{_f(ly)}" text-anchor="{anchor}" font-size="12" '
            f'fill="#3d4450">{escape(row.label)}</text>'
        )
        y += label_h
        for i, bar in enumerate(row.bars):
            by = y + i * (_BAR_H + _GAP)
            length = 0.0 if top == 0 else abs(bar.value) / top * span
            if bar.value != 0:
                length = max(length, 2.0)  # a tiny non-zero value stays visible
            tip = f"{row.label}: {bar.text}"
            parts.append(
                f'<rect class="bar bar-{bar.tone.value}" x="{_f(label_w)}" y="{_f(by)}" '
                f'width="{_f(length)}" height="{_f(_BAR_H)}" rx="2" fill="{_FILL[bar.tone]}">'
                f"<title>{escape(tip)}</title></rect>"
                f'<text class="bar-value" x="{_f(label_w + length + 6)}" y="{_f(by + _BAR_H - 3)}" '
                f'font-size="12" fill="#1b1f24">{escape(bar.text)}</text>'
            )
        y += row_h + _ROW_GAP
    height = max(y - _ROW_GAP + _PAD, 2 * _PAD + _BAR_H)
    if not rows:
        parts.append(
            f'<text class="bar-empty" x="{_f(width / 2)}" y="{_f(height / 2 + 4)}" text-anchor="middle" '
            f'font-size="12" fill="#5d6673">Nothing to show</text>'
        )
    # Every text in the drawing is escaped above; the rest is numbers and fixed markup.
    return Markup(  # noqa: S704
        f'<svg class="bars{" bars-narrow" if narrow else ""}" {_NS} viewBox="0 0 {_f(width)} {_f(height)}" '
        f'width="100%" role="img" aria-label="{title}" font-family="sans-serif"><title>{title}</title>'
        + "".join(parts)
        + "</svg>"
    )


@dataclass(frozen=True)
class TrendPoint:
    """One run on a trend: ``value`` None means it has no figure (drawn as a cross on the axis)."""

    label: str  # under the axis (the first, middle and last are written)
    value: float | None
    text: str  # the tooltip: when, the figure, the outcome
    ok: bool


_TREND_H = 190.0
_AXIS_L = 64.0  # room for the value labels, left of the plot
_AXIS_B = 24.0  # room for the run labels, under the plot
_TOP_PAD = 18.0
_OFF_SCALE = 4.0  # a target more than this many times the highest figure is drawn off the scale


def trend_chart(
    points: Sequence[TrendPoint],
    label: str,
    *,
    fmt: Callable[[float], str],
    target: float | None = None,
    target_text: str = "target",
    narrow: bool = False,
) -> Markup:
    """An SVG line of ``points`` (oldest first), evenly spaced; ``target`` drawn as a dashed line.
    A point that is not ``ok`` is red; a point without a value is a red cross on the axis."""
    title = escape(label)
    width = _NARROW if narrow else _WIDTH
    plot_w = width - _AXIS_L - 16
    plot_h = _TREND_H - _AXIS_B - _TOP_PAD
    known = [p.value for p in points if p.value is not None]
    high = max(known, default=0.0)
    # A target far above every figure would flatten the line: it is then drawn along the top edge,
    # labelled as off the scale, and the scale fits the figures.
    off_scale = target is not None and high > 0 and target > high * _OFF_SCALE
    top = (high if off_scale or target is None else max(high, target)) * 1.15 or 1.0
    n = len(points)

    def x(i: int) -> float:
        return _AXIS_L + (plot_w / 2 if n == 1 else i * plot_w / (n - 1))

    def y(v: float) -> float:
        return _TOP_PAD + plot_h - max(0.0, v) / top * plot_h

    base = y(0)
    parts = [
        f'<line class="trend-axis" x1="{_f(_AXIS_L)}" y1="{_f(base)}" x2="{_f(_AXIS_L + plot_w)}" '
        f'y2="{_f(base)}" stroke="#8c939d" stroke-width="1"/>',
        f'<text class="trend-tick" x="{_f(_AXIS_L - 6)}" y="{_f(base + 4)}" text-anchor="end" font-size="11" '
        f'fill="#5d6673">0</text>',
    ]
    if known:  # the highest figure, written on the axis at its height
        parts.append(
            f'<text class="trend-tick" x="{_f(_AXIS_L - 6)}" y="{_f(y(high) + 4)}" text-anchor="end" '
            f'font-size="11" fill="#5d6673">{escape(fmt(high))}</text>'
        )
    if target is not None:
        ty = _TOP_PAD - 4 if off_scale else y(target)
        if off_scale:
            target_text += " (above the scale)"
        parts.append(
            f'<line class="trend-target" x1="{_f(_AXIS_L)}" y1="{_f(ty)}" x2="{_f(_AXIS_L + plot_w)}" '
            f'y2="{_f(ty)}" stroke="#8a5a00" stroke-width="1.5" stroke-dasharray="6 4"/>'
            f'<text class="trend-target-label" x="{_f(_AXIS_L + plot_w)}" y="{_f(max(ty - 5, 10))}" '
            'text-anchor="end" '
            f'font-size="11" fill="#8a5a00">{escape(target_text)}</text>'
        )
    line = [f"{_f(x(i))},{_f(y(p.value))}" for i, p in enumerate(points) if p.value is not None]
    if len(line) > 1:
        parts.append(
            f'<polyline class="trend-line" points="{" ".join(line)}" fill="none" stroke="#2557d6" '
            'stroke-width="2"/>'
        )
    for i, p in enumerate(points):
        tone = "ok" if p.ok else "fail"
        colour = "#137a3a" if p.ok else "#b42318"
        tip = f"<title>{escape(p.text)}</title>"
        if p.value is None:
            cx, cy = x(i), base
            parts.append(
                f'<g class="trend-point trend-{tone} trend-missing" stroke="{colour}" stroke-width="2.5">'
                f"{tip}"
                f'<line x1="{_f(cx - 5)}" y1="{_f(cy - 5)}" x2="{_f(cx + 5)}" y2="{_f(cy + 5)}"/>'
                f'<line x1="{_f(cx - 5)}" y1="{_f(cy + 5)}" x2="{_f(cx + 5)}" y2="{_f(cy - 5)}"/></g>'
            )
        else:
            parts.append(
                f'<circle class="trend-point trend-{tone}" cx="{_f(x(i))}" cy="{_f(y(p.value))}" r="4.5" '
                f'fill="{colour}">{tip}</circle>'
            )
    for i in sorted({0, n // 2, n - 1} if n else set()):
        anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
        parts.append(
            f'<text class="trend-label" x="{_f(x(i))}" y="{_f(_TREND_H - 6)}" text-anchor="{anchor}" '
            f'font-size="11" fill="#3d4450">{escape(points[i].label)}</text>'
        )
    if not points:
        parts.append(
            f'<text class="bar-empty" x="{_f(width / 2)}" y="{_f(_TREND_H / 2)}" text-anchor="middle" '
            f'font-size="12" fill="#5d6673">Nothing to show</text>'
        )
    # Every text in the drawing is escaped above; the rest is numbers and fixed markup.
    css = "trend trend-narrow" if narrow else "trend"
    return Markup(  # noqa: S704
        f'<svg class="{css}" {_NS} viewBox="0 0 {_f(width)} {_f(_TREND_H)}" '
        f'width="100%" role="img" aria-label="{title}" font-family="sans-serif"><title>{title}</title>'
        + "".join(parts)
        + "</svg>"
    )
