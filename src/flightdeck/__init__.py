"""flightdeck: evidence, not claims, that a web service is ready for production."""

from flightdeck.errors import (
    AuthenticationError,
    AuthError,
    CheckError,
    CheckTimeoutError,
    ConfigError,
    ConfigIssue,
    FlightdeckError,
    NotFoundError,
    PermissionDeniedError,
    StoreError,
)
from flightdeck.evidence import Artifact, Evidence, Measurement, NewEvidence, Trigger, Verdict
from flightdeck.secret import Secret

__version__ = "0.1.0"

__all__ = [
    "Artifact",
    "AuthError",
    "AuthenticationError",
    "CheckError",
    "CheckTimeoutError",
    "ConfigError",
    "ConfigIssue",
    "Evidence",
    "FlightdeckError",
    "Measurement",
    "NewEvidence",
    "NotFoundError",
    "PermissionDeniedError",
    "Secret",
    "StoreError",
    "Trigger",
    "Verdict",
    "__version__",
]
