"""Server-side SVG charts and the cockpit's number formats."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

from flightdeck.web.charts import ChartPoint, nice_ticks, sparkline, time_chart
from flightdeck.web.format import ago, fmt_latencies, fmt_number, fmt_ratio, fmt_value, humanize

T0 = datetime(2026, 1, 5, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ElementTree.Element:
    return ElementTree.fromstring(markup)  # noqa: S314 - our own output


def test_a_chart_is_well_formed_svg_with_a_line_a_band_and_failure_marks() -> None:
    points = [
        ChartPoint(
            T0 + timedelta(minutes=5 * i),
            value=10.0 + i,
            low=5.0,
            high=20.0 + i,
            p95=15.0 + i,
            runs=5,
            failures=int(i == 3),
        )
        for i in range(6)
    ]
    root = parse(time_chart(points, T0, T0 + timedelta(minutes=30), 300, unit="ms", label="web/up"))
    plot = root.find(f"{SVG}svg")
    assert plot is not None
    assert plot.get("preserveAspectRatio") == "none"
    assert len(plot.findall(f"{SVG}polyline[@class='line']")) == 1
    assert len(plot.findall(f"{SVG}polyline[@class='line-p95']")) == 1
    assert len(plot.findall(f"{SVG}polygon[@class='band']")) == 1
    assert len(plot.findall(f"{SVG}rect[@class='fail-mark']")) == 1
    tips = [t.text or "" for t in plot.iter(f"{SVG}title")]
    assert any("1 failed" in t and "5 runs" in t for t in tips)
    labels = [t.text for t in root.findall(f"{SVG}text")]
    assert "20 ms" in labels  # a round y tick with its unit


def test_gaps_break_the_line() -> None:
    points = [ChartPoint(T0 + timedelta(minutes=m), value=1.0, runs=1) for m in (0, 5, 10, 40, 45)]
    root = parse(time_chart(points, T0, T0 + timedelta(hours=1), 300))
    assert len(root.findall(f".//{SVG}polyline[@class='line']")) == 2


def test_an_empty_chart_says_so() -> None:
    markup = time_chart([], T0, T0 + timedelta(hours=24), 300, label="x")
    assert "No runs in this range" in markup
    parse(markup)


def test_labels_are_escaped() -> None:
    markup = time_chart([ChartPoint(T0, value=1.0, runs=1)], T0, T0 + timedelta(hours=1), 60, label="<b>&")
    assert "<b>" not in markup
    assert "&lt;b&gt;&amp;" in markup
    assert "<script" not in sparkline([1.0], label="<script>")


def test_sparkline_gaps_and_empty() -> None:
    root = parse(sparkline([1.0, 2.0, None, 3.0, 4.0, None, 5.0]))
    lines = root.findall(f"{SVG}polyline")
    assert [len(line.get("points", "").split()) for line in lines] == [2, 2, 2]  # a lone point is a dash
    assert "—" in sparkline([None, None])
    assert "—" in sparkline([])


def test_time_axis_labels_fit_the_range() -> None:
    day = time_chart([ChartPoint(T0, value=1.0, runs=1)], T0, T0 + timedelta(hours=24), 300)
    month = time_chart([ChartPoint(T0, value=1.0, runs=1)], T0, T0 + timedelta(days=30), 86400)
    assert re.search(r">\d\d:00<", day)
    assert re.search(r">(Jan|Feb) \d\d<", month)
    assert len(re.findall(r'class="tick" x="[\d.]+%"', month)) <= 7


def test_nice_ticks() -> None:
    assert nice_ticks(0, 848) == [0, 250, 500, 750, 1000]
    assert nice_ticks(0, 0.3) == [0, 0.1, 0.2, 0.3]
    assert nice_ticks(0, 191e6, unit="bytes")[1] == 50 * 2**20  # round MiB, not round bytes
    flat = nice_ticks(5, 5)
    assert flat[0] <= 5 < flat[-1]


def test_formats() -> None:
    assert fmt_ratio(None) == "—"
    assert fmt_ratio(1.0) == "100 %"
    assert fmt_ratio(0.99995) == "99.99 %"  # never rounded up to 100
    assert fmt_ratio(0.875) == "87.5 %"
    assert fmt_value(0.0123, "ratio") == "1.23 %"
    assert fmt_value(3, "wallets") == "3 wallets"
    assert fmt_value(123456789, "bytes") == "118 MiB"
    assert fmt_value(1500, "ms") == "1.5 s"
    assert fmt_value(12.5, "1/s") == "12.5/s"
    assert fmt_number(12345) == "12.3k"
    assert fmt_latencies(13.0, 21.34, 22.6) == "13 · 21.3 · 22.6 ms"
    assert fmt_latencies(400.0, 1200.0, 2500.0) == "0.4 · 1.2 · 2.5 s"
    assert ago(T0 - timedelta(minutes=5), T0) == "5 min ago"
    assert ago(T0 + timedelta(seconds=20), T0) == "in 20 s"
    assert ago(None, T0) == "never"
    assert humanize("failed_payments_1h") == "Failed payments (1 h)"
    assert humanize("payments_failed_per_s") == "Payments failed per s"
    assert humanize("wallet-mismatches") == "Wallet mismatches"
