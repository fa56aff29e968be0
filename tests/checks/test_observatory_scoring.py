"""The Observatory's scoring rule, grade chart and score table, checked against the methodology
as documented (docs/checks/headers.md transcribes mdn/mdn-http-observatory's charts)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flightdeck.checks.observatory import Grade, Result, ScoringVersion, grade_for_score, score
from flightdeck.checks.observatory import results as table
from flightdeck.checks.observatory.results import modifier

DOC = Path(__file__).resolve().parents[2] / "docs" / "checks" / "headers.md"


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        (165, "A+"),
        (100, "A+"),
        (99, "A"),
        (90, "A"),
        (89, "A-"),
        (85, "A-"),
        (84, "B+"),
        (80, "B+"),
        (79, "B"),
        (70, "B"),
        (69, "B-"),
        (65, "B-"),
        (64, "C+"),
        (60, "C+"),
        (59, "C"),
        (50, "C"),
        (49, "C-"),
        (45, "C-"),
        (44, "D+"),
        (40, "D+"),
        (39, "D"),
        (30, "D"),
        (29, "D-"),
        (25, "D-"),
        (24, "F"),
        (0, "F"),
        (-40, "F"),
    ],
)
def test_grade_chart(points: int, expected: str) -> None:
    assert grade_for_score(points).value == expected


def test_bonuses_count_only_when_the_penalised_score_is_still_an_a() -> None:
    assert score([-10, +10, +5]) == 105  # 90 after penalties: bonuses added
    assert score([-15, +10, +5]) == 85  # 85 after penalties: bonuses ignored
    assert score([+10, +5, 0]) == 115
    assert score([-50, -40, -25, -20]) == 0  # never below zero
    assert score([]) == 100


def test_grades_order_by_quality() -> None:
    assert Grade.A_PLUS.at_least(Grade.A)
    assert Grade.B_PLUS.at_least(Grade.B_PLUS)
    assert not Grade.B.at_least(Grade.B_PLUS)
    assert not Grade.F.at_least(Grade.D_MINUS)
    assert [g.value for g in sorted(Grade, key=lambda g: -g.rank)][:4] == ["A+", "A", "A-", "B+"]


def test_versions_differ_only_where_documented() -> None:
    xfo = Result.X_FRAME_OPTIONS_SAMEORIGIN_OR_DENY
    assert (modifier(xfo, ScoringVersion.V4), modifier(xfo, ScoringVersion.V5)) == (0, 5)
    assert len(table.tests_for(ScoringVersion.V4)) == len(table.tests_for(ScoringVersion.V5)) == 10
    assert len(table.tests_for(ScoringVersion.V6)) == 12
    others = [r for r in Result if r is not xfo]
    assert all(modifier(r, ScoringVersion.V4) == modifier(r, ScoringVersion.V6) for r in others)


def test_reference_tables_match_the_score_table() -> None:
    """Every result identifier is documented with the modifier the code applies (scoring 6)."""
    rows = dict(re.findall(r"^\| `([a-z0-9-]+)` \| ([+-]?\d+) \|", DOC.read_text(), flags=re.M))
    documented = {k: int(v) for k, v in rows.items()}
    code = {r.value: modifier(r, ScoringVersion.V6) for r in Result}
    assert documented == code


def test_maximum_scores_match_the_documentation() -> None:
    best: dict[ScoringVersion, int] = {}
    by_test = {
        "csp": [r for r in Result if r.value.startswith("csp-")],
        "cookies": [r for r in Result if r.value.startswith("cookies-")],
        "cors": [r for r in Result if r.value.startswith("cross-origin-resource-sharing")],
        "redirection": [r for r in Result if r.value.startswith("redirection-")],
        "referrer": [r for r in Result if r.value.startswith("referrer-")],
        "hsts": [r for r in Result if r.value.startswith("hsts-")],
        "sri": [r for r in Result if r.value.startswith("sri-")],
        "xcto": [r for r in Result if r.value.startswith("x-content-type-options")],
        "xfo": [r for r in Result if r.value.startswith("x-frame-options")],
        "corp": [r for r in Result if r.value.startswith("corp-")],
        "coop": [r for r in Result if r.value.startswith("coop-")],
        "coep": [r for r in Result if r.value.startswith("coep-")],
    }
    for version in ScoringVersion:
        tests = list(by_test.values())[: len(table.tests_for(version))]
        best[version] = score([max(modifier(r, version) for r in results) for results in tests])
    assert best == {ScoringVersion.V4: 145, ScoringVersion.V5: 145, ScoringVersion.V6: 165}
