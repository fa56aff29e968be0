"""``headers``: grade an HTTPS site's security headers the way the MDN HTTP Observatory does.

Measurements: ``score`` (points; 100 is the start, above 100 with bonuses), ``tests_passed``,
``tests_failed``. Detail: the letter grade and every test with its result identifier, score
modifier, pass/fail and what to fix. ``min_grade`` turns a lower grade into a ``fail``.
The methodology lives in :mod:`flightdeck.checks.observatory`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BeforeValidator, Field, JsonValue, field_validator

from flightdeck.checks.base import Check, Observation, register
from flightdeck.checks.observatory import Grade, Report, ScoringVersion, grade
from flightdeck.checks.observatory.retrieve import Retriever
from flightdeck.config.check_spec import CheckSpec
from flightdeck.config.types import Duration, RelPath
from flightdeck.errors import CheckError

__all__ = ["DEFAULT_CORS_ORIGIN", "HeadersCheck", "HeadersSpec", "default_http_url"]

DEFAULT_CORS_ORIGIN = "https://cors-probe.flightdeck.invalid"
_GRADABLE_ERRORS = (401, 403)


def _grade(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip().upper()
        if text not in {g.value for g in Grade}:
            raise ValueError(f"{value!r} is not a grade: use one of {', '.join(g.value for g in Grade)}")
        return text
    return value


GradeField = Annotated[Grade, BeforeValidator(_grade)]


def default_http_url(url: str) -> str:
    """``https://shop.example:8443/a?b`` → ``http://shop.example/a?b`` (port 80, as the Observatory)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return urlunsplit(("http", host, parts.path, parts.query, ""))


class HeadersSpec(CheckSpec):
    kind: Literal["headers"]
    url: str = Field(description="The https:// page to grade")
    http_url: str | None = Field(
        default=None,
        description="Where to test HTTP→HTTPS redirection (default: the url with http:// and port 80)",
    )
    min_grade: GradeField | None = Field(default=None, description="A lower grade makes the verdict fail")
    scoring: ScoringVersion = Field(
        default=ScoringVersion.V6, description="Observatory scoring version: 4, 5 or 6"
    )
    cors_origin: str = Field(
        default=DEFAULT_CORS_ORIGIN, description="Origin sent in the CORS preflight to detect reflection"
    )
    ca_file: RelPath | None = Field(
        default=None, description="CA certificates (PEM) to trust instead of the system's"
    )
    request_timeout: Duration = Field(
        default=5.0, description="Give up on the plain-HTTP URL and the CORS preflight after this long"
    )

    @field_validator("url")
    @classmethod
    def _https(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme.lower() != "https" or not parts.hostname:
            raise ValueError(f"must be an https:// URL with a host (got {value!r})")
        if parts.username or parts.password:
            raise ValueError("must not contain a user name or password: the graded page is a public one")
        return value

    @field_validator("http_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme.lower() != "http" or not parts.hostname:
                raise ValueError(f"must be an http:// URL with a host (got {value!r})")
            if parts.username or parts.password:
                raise ValueError("must not contain a user name or password")
        return value

    @field_validator("cors_origin")
    @classmethod
    def _origin(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
            raise ValueError(f"must be an origin such as https://attacker.example (got {value!r})")
        return value.rstrip("/")

    @field_validator("request_timeout")
    @classmethod
    def _request_timeout(cls, value: float) -> float:
        if value < 0.1:
            raise ValueError("must be at least 100ms")
        return value

    @property
    def effective_http_url(self) -> str:
        return self.http_url or default_http_url(self.url)


@register
class HeadersCheck(Check[HeadersSpec]):
    spec_type = HeadersSpec

    async def observe(self, memo: JsonValue) -> Observation:
        spec = self.spec
        retriever = Retriever(self.context, ca_file=spec.ca_file, request_timeout=spec.request_timeout)
        retrieval = await retriever.retrieve(spec.url, spec.effective_http_url, spec.cors_origin)
        page = retrieval.page
        if page.status < 200 or (page.status >= 400 and page.status not in _GRADABLE_ERRORS):
            raise CheckError(
                f"{page.url} answered HTTP {page.status}; "
                "the Observatory grades only 2xx, 3xx, 401 and 403 responses"
            )
        report = grade(retrieval, spec.scoring)
        obs = Observation(summary=_summary(report))
        obs.measure("score", report.score, "points")
        obs.measure("tests_passed", report.tests_passed)
        obs.measure("tests_failed", report.tests_failed)
        obs.detail.update(
            {
                "grade": report.grade.value,
                "score": report.score,
                "scoring": f"MDN HTTP Observatory, scoring version {int(report.version)}",
                "min_grade": spec.min_grade.value if spec.min_grade else None,
                "url": spec.url,
                "final_url": page.url,
                "status": page.status,
                "certificate_verified": retrieval.https.verified,
                "http_url": spec.effective_http_url,
                "cors_origin": spec.cors_origin,
                "tests": [t.as_json() for t in report.tests],
            }
        )
        if spec.min_grade is not None and not report.grade.at_least(spec.min_grade):
            obs.failures.append(
                f"grade {report.grade.value} is below the minimum {spec.min_grade.value}" + _costs(report)
            )
        return obs


def _costs(report: Report) -> str:
    worst = [t for t in report.worst() if t.score_modifier < 0]
    if not worst:
        return ""
    return ": " + ", ".join(f"{t.result.value} ({t.score_modifier})" for t in worst)


def _summary(report: Report) -> str:
    return (
        f"grade {report.grade.value}, score {report.score} "
        f"({report.tests_passed}/{len(report.tests)} tests passed)" + _costs(report)
    )
