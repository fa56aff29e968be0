"""Horizontal bar charts as SVG, for reports (HTML, PDF) and the cockpit alike.

A chart is one row per label with one or more bars (``internal`` and ``statement`` amounts side by
side, say) and the value written after each bar, so the picture never replaces the figure. Colours
are presentation attributes — a standalone report file or a PDF shows them with no stylesheet — and
each shape also carries a class, so the cockpit's stylesheet can recolour it for the dark theme.
The drawing scales with ``viewBox``; every text placed in it is escaped.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["Bar", "BarRow", "BarTone", "bar_chart"]

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
