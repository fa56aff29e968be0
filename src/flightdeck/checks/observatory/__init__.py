"""Grading HTTP responses the way the MDN HTTP Observatory does.

A scan is two steps: :class:`~flightdeck.checks.observatory.retrieve.Retriever` fetches what the
Observatory looks at (the HTTPS page with its redirects, the plain-HTTP URL's redirects, a CORS
preflight) into a :class:`Retrieval`; :func:`grade` runs the tests on it and scores them. The tests
are pure functions of the retrieval, one module per group: ``csp`` (CSP, X-Frame-Options),
``cookies``, ``transport`` (HSTS, redirection), ``html`` (Subresource Integrity), ``policies``
(Referrer-Policy, X-Content-Type-Options, CORS, CORP, COOP, COEP); ``results`` holds the result
identifiers, score modifiers and grade chart.
"""

from flightdeck.checks.observatory.grading import Report, TestReport, grade, score
from flightdeck.checks.observatory.model import Chain, Exchange, Outcome, Retrieval
from flightdeck.checks.observatory.results import Grade, Result, ScoringVersion, TestName, grade_for_score

__all__ = [
    "Chain",
    "Exchange",
    "Grade",
    "Outcome",
    "Report",
    "Result",
    "Retrieval",
    "ScoringVersion",
    "TestName",
    "TestReport",
    "grade",
    "grade_for_score",
    "score",
]
