"""The request fields shared by the kinds that send an HTTP request (``http``, ``ratelimit``).

Request header values often carry credentials. They are sent, never recorded: evidence names the
headers that were sent, not their values, and the values of credential-like headers, query
parameters and URL passwords are added to the check's secrets so that anything echoing them back
(an error page, a redirect ``Location``) is masked before it is stored.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import AfterValidator, Field, JsonValue, field_validator, model_validator

from flightdeck.config.check_spec import CheckSpec
from flightdeck.config.types import ReadableFile
from flightdeck.secret import MASK, Secret, redact_url

__all__ = [
    "Headers",
    "HttpMethod",
    "RequestSpec",
    "check_auth_and_tls",
    "credential_values",
    "is_sensitive_name",
    "public_url",
]

_SENSITIVE = re.compile(
    r"auth|token|key|secret|cookie|session|passw|pwd|signature|credential|jwt|bearer|csrf|xsrf", re.I
)
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def is_sensitive_name(name: str) -> bool:
    """Whether a header or query parameter name suggests its value is a credential."""
    return _SENSITIVE.search(name) is not None


def _check_headers(value: dict[str, str]) -> dict[str, str]:
    for name, text in value.items():
        if not _HEADER_NAME.match(name):
            raise ValueError(f"{name!r} is not a valid header name")
        if "\r" in text or "\n" in text:
            raise ValueError(f"the value of {name} must not contain line breaks")
    return value


Headers = Annotated[dict[str, str], AfterValidator(_check_headers)]
"""Request headers: valid names, values without line breaks."""


def check_auth_and_tls(
    headers: Mapping[str, str], bearer_token: Secret | None, ca_file: Path | None, verify_tls: bool
) -> None:
    """Reject a bearer token given next to an Authorization header, and a CA file that is unused."""
    if bearer_token is not None and any(h.lower() == "authorization" for h in headers):
        raise ValueError("give either bearer_token or an Authorization header, not both")
    if ca_file is not None and not verify_tls:
        raise ValueError("ca_file has no effect with verify_tls: false")


def credential_values(headers: Mapping[str, str], url: str) -> list[str]:
    """Values of credential-like headers, the URL's password and its credential-like query values."""
    found: list[str] = []
    for name, value in headers.items():
        if is_sensitive_name(name):
            found.append(value)
            # "Bearer abc", "Basic xyz": the credential alone may be echoed back too.
            scheme, _, credential = value.partition(" ")
            if credential and scheme.isalpha():
                found.append(credential)
    parts = urlsplit(url)
    if parts.password:
        found.append(parts.password)
    found.extend(v for k, v in parse_qsl(parts.query) if is_sensitive_name(k) and v)
    return found


class HttpMethod(enum.StrEnum):
    GET = "GET"
    HEAD = "HEAD"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"
    OPTIONS = "OPTIONS"


class RequestSpec(CheckSpec):
    """Fields of a check that sends one kind of HTTP request. Not a kind by itself."""

    url: str = Field(description="http:// or https:// URL to request")
    method: HttpMethod = Field(default=HttpMethod.GET, description="HTTP method")
    headers: Headers = Field(
        default_factory=dict,
        description="Request headers. Values are sent but never recorded in evidence",
    )
    bearer_token: Secret | None = Field(
        default=None,
        description="Sent as 'Authorization: Bearer <token>'; may be given as bearer_token_file",
    )
    body: str | None = Field(default=None, description="Raw request body")
    body_json: JsonValue = Field(
        default=None, description="Request body sent as JSON (Content-Type: application/json)"
    )
    verify_tls: bool = Field(
        default=True, description="Verify the server's certificate chain and host name (https only)"
    )
    ca_file: ReadableFile | None = Field(
        default=None, description="PEM file of CA certificates to trust instead of the system's"
    )

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"must be an http:// or https:// URL (got {redact_url(value)!r})")
        if not parts.hostname:
            raise ValueError(f"has no host name (got {redact_url(value)!r})")
        try:
            _ = parts.port
        except ValueError:
            raise ValueError("has an invalid port") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RequestSpec:
        if self.body is not None and self.body_json is not None:
            raise ValueError("give either body or body_json, not both")
        check_auth_and_tls(self.headers, self.bearer_token, self.ca_file, self.verify_tls)
        return self

    # -- what is sent ------------------------------------------------------------------------

    def request_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.bearer_token is not None:
            headers["Authorization"] = f"Bearer {self.bearer_token.reveal()}"
        if self.body_json is not None and not any(h.lower() == "content-type" for h in headers):
            headers["Content-Type"] = "application/json"
        return headers

    def request_body(self) -> bytes | None:
        if self.body is not None:
            return self.body.encode("utf-8")
        if self.body_json is not None:
            return json.dumps(self.body_json, separators=(",", ":")).encode("utf-8")
        return None

    # -- what may be recorded ----------------------------------------------------------------

    def public_url(self) -> str:
        """The URL with its password and credential-like query values masked."""
        return public_url(self.url)

    def request_detail(self) -> dict[str, JsonValue]:
        sent: list[str] = sorted(self.request_headers(), key=str.lower)
        names: list[JsonValue] = [*sent]
        detail: dict[str, JsonValue] = {"method": self.method.value, "url": self.public_url()}
        if names:
            detail["header_names"] = names
        body = self.request_body()
        if body is not None:
            detail["body_bytes"] = len(body)
        return detail

    def secret_values(self) -> list[str]:
        return [*super().secret_values(), *credential_values(self.headers, self.url)]


def public_url(url: str) -> str:
    """``url`` with its password and credential-like query parameter values masked."""
    parts = urlsplit(redact_url(url))
    if not parts.query:
        return urlunsplit(parts)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if not any(is_sensitive_name(k) for k, _ in pairs):
        return urlunsplit(parts)
    query = urlencode([(k, MASK if is_sensitive_name(k) else v) for k, v in pairs], safe="*")
    return urlunsplit(parts._replace(query=query))
