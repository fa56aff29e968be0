"""Errors the payments service answers with; each maps to one HTTP status and a stable code.

::

    ServiceError                 (status, code) → ``{"error": {"code": ..., "message": ...}}``
    ├── InvalidRequest           400 invalid_request
    ├── Unauthorized             401 unauthorized
    ├── InsufficientFunds        402 insufficient_funds
    ├── NotFound                 404 not_found
    ├── Conflict                 409 conflict / email_taken / idempotency_key_reused / fault_unavailable
    └── TooManyRequests          429 too_many_requests (with ``Retry-After``)
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "InsufficientFunds",
    "InvalidRequest",
    "NotFound",
    "ServiceError",
    "TooManyRequests",
    "Unauthorized",
]


class ServiceError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidRequest(ServiceError):
    status = 400
    code = "invalid_request"


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"


class InsufficientFunds(ServiceError):
    status = 402
    code = "insufficient_funds"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class TooManyRequests(ServiceError):
    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
