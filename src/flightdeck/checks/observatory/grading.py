"""Running the tests on a retrieval and turning their results into a score and a letter grade.

The scanner's rule (``src/scanner/index.js``): start at 100; add every negative modifier; if the
result is still at least 90, add the bonuses too, otherwise ignore them; the floor is 0; the grade
is read from the five-point bucket the score falls in (100 and above is A+).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import JsonValue

from flightdeck.checks.observatory.cookies import cookies
from flightdeck.checks.observatory.csp import content_security_policy, x_frame_options
from flightdeck.checks.observatory.html import subresource_integrity
from flightdeck.checks.observatory.model import Outcome, Retrieval
from flightdeck.checks.observatory.policies import (
    cross_origin_embedder_policy,
    cross_origin_opener_policy,
    cross_origin_resource_policy,
    cross_origin_resource_sharing,
    referrer_policy,
    x_content_type_options,
)
from flightdeck.checks.observatory.results import (
    EXTRA_CREDIT_THRESHOLD,
    STARTING_SCORE,
    Grade,
    Result,
    ScoringVersion,
    TestName,
    grade_for_score,
    info,
    modifier,
    tests_for,
)
from flightdeck.checks.observatory.transport import redirection, strict_transport_security

__all__ = ["Report", "TestReport", "grade", "score"]

TESTS: dict[TestName, Callable[[Retrieval], Outcome]] = {
    TestName.CONTENT_SECURITY_POLICY: content_security_policy,
    TestName.COOKIES: cookies,
    TestName.CROSS_ORIGIN_RESOURCE_SHARING: cross_origin_resource_sharing,
    TestName.REDIRECTION: redirection,
    TestName.REFERRER_POLICY: referrer_policy,
    TestName.STRICT_TRANSPORT_SECURITY: strict_transport_security,
    TestName.SUBRESOURCE_INTEGRITY: subresource_integrity,
    TestName.X_CONTENT_TYPE_OPTIONS: x_content_type_options,
    TestName.X_FRAME_OPTIONS: x_frame_options,
    TestName.CROSS_ORIGIN_RESOURCE_POLICY: cross_origin_resource_policy,
    TestName.CROSS_ORIGIN_OPENER_POLICY: cross_origin_opener_policy,
    TestName.CROSS_ORIGIN_EMBEDDER_POLICY: cross_origin_embedder_policy,
}


@dataclass(frozen=True)
class TestReport:
    __test__ = False  # not a pytest test class

    test: TestName
    result: Result
    passed: bool
    score_modifier: int
    observed: JsonValue = None

    @property
    def description(self) -> str:
        return info(self.result).description

    @property
    def fix(self) -> str:
        return info(self.result).fix

    def as_json(self) -> dict[str, JsonValue]:
        return {
            "test": self.test.value,
            "title": self.test.label,
            "pass": self.passed,
            "result": self.result.value,
            "score_modifier": self.score_modifier,
            "description": self.description,
            "fix": self.fix,
            "observed": self.observed,
        }


@dataclass(frozen=True)
class Report:
    version: ScoringVersion
    score: int
    grade: Grade
    tests: tuple[TestReport, ...]

    @property
    def tests_passed(self) -> int:
        return sum(1 for t in self.tests if t.passed)

    @property
    def tests_failed(self) -> int:
        return len(self.tests) - self.tests_passed

    def worst(self, limit: int = 3) -> list[TestReport]:
        """The failed tests that cost most, worst first."""
        failed = [t for t in self.tests if not t.passed or t.score_modifier < 0]
        return sorted(failed, key=lambda t: t.score_modifier)[:limit]


def score(modifiers: list[int]) -> int:
    """100, the penalties, and the bonuses only if the penalised score is still an A (≥ 90)."""
    penalised = STARTING_SCORE + sum(m for m in modifiers if m < 0)
    total = STARTING_SCORE + sum(modifiers)
    return max(total if penalised >= EXTRA_CREDIT_THRESHOLD else penalised, 0)


def grade(retrieval: Retrieval, version: ScoringVersion = ScoringVersion.V6) -> Report:
    reports = []
    for name in tests_for(version):
        outcome = TESTS[name](retrieval)
        reports.append(
            TestReport(
                name, outcome.result, outcome.passed, modifier(outcome.result, version), outcome.observed
            )
        )
    points = score([t.score_modifier for t in reports])
    return Report(version, points, grade_for_score(points), tuple(reports))
