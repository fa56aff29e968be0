"""The exceptions flightdeck raises.

Every error flightdeck raises on purpose derives from :class:`FlightdeckError`; third-party
exceptions (aiohttp, asyncpg, SQLAlchemy, ...) are converted at the boundary where they occur.

::

    FlightdeckError
    ├── ConfigError               invalid configuration: every issue, with file, line and key path
    ├── StoreError                the evidence store could not be opened, migrated or written
    ├── NotFoundError             a named service, check, evidence record, user or token does not exist
    ├── AuthError                 access control
    │   ├── AuthenticationError   no valid session, password or token (HTTP 401)
    │   ├── PermissionDeniedError authenticated, but the role does not allow it (HTTP 403)
    │   │   └── CsrfError         (flightdeck.web.auth) a cookie-authenticated change without its CSRF token
    │   ├── LoginThrottledError   (flightdeck.access) too many failed logins; ``retry_after`` seconds
    │   ├── AccessPolicyError     (flightdeck.access) a user name, password, role or expiry not accepted
    │   └── AlreadyExistsError    (flightdeck.access) a user with that name exists
    ├── CheckError                a check could not obtain a measurement (verdict ``error``)
    │   └── CheckTimeoutError     the check did not finish within its timeout
    ├── DatasourceError           (flightdeck.datasources) a database was unreachable or refused a statement
    │   └── ReadOnlyViolation     the statement tried to change something; the database refused
    ├── DemoError                 (flightdeck.demo) the demo could not be prepared, started or reached
    │   ├── DemoNotPreparedError  no demo in that folder yet (also a NotFoundError)
    │   └── DemoBusyError         another ``flightdeck demo`` is running in that folder
    ├── PaymentsError             (flightdeck.payments) payment integrity could not do its work
    │   ├── StatementError        a statement file is malformed: file, line and column
    │   ├── CurrencyError         an unknown currency, or several currencies summed without a rate
    │   ├── ReconError            a reconciliation could not run
    │   ├── LedgerError           a ledger, its hash chain or signing key could not be read or written
    │   │   └── LedgerTamperedError  the ledger no longer matches its chain: flightdeck refuses to vouch
    │   └── DrillError            a gateway fault drill could not be set up or driven
    ├── BackupError               (flightdeck.backups) a backup, restore or drill could not be done
    │   ├── IntegrityError        an artifact's size or SHA-256 differs from its manifest: nothing restored
    │   ├── DecryptionError       wrong key, or an encrypted chunk that does not authenticate
    │   └── RestoreRefused        the restore target looks like production and was not confirmed
    └── AlertingError             (flightdeck.alerting) alerting could not do its work
        ├── IntakeError           a pushed alert or event is malformed (HTTP 400); nothing was stored
        │   └── PayloadError      (flightdeck.alerting.intake) where in the payload, and why
        ├── LinkError             an acknowledge/resolve link is forged, malformed or expired
        ├── ScheduleError         an on-call schedule cannot be resolved
        ├── Conflict              (flightdeck.alerting.timing) an incident changed under the router; retried
        └── DeliveryError         a notification could not be delivered
            ├── PermanentDeliveryError  the receiver refused it (4xx other than 429): no retry
            └── RetryableDeliveryError  try again later (5xx, 429, timeout, connection refused)

The classes defined here are the core; the ones marked with a module live with their domain and
are exported from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AuthError",
    "AuthenticationError",
    "CheckError",
    "CheckTimeoutError",
    "ConfigError",
    "ConfigIssue",
    "FlightdeckError",
    "NotFoundError",
    "PermissionDeniedError",
    "StoreError",
]


class FlightdeckError(Exception):
    """Root of every error flightdeck raises on purpose."""


@dataclass(frozen=True, order=True)
class ConfigIssue:
    """One problem in a configuration file, located by file, line and key path."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(FlightdeckError):
    """The configuration is invalid. ``issues`` lists every problem found, in file order."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.file, i.line or 0, i.path))
        count = len(self.issues)
        head = f"{count} configuration error{'s' if count != 1 else ''}"
        super().__init__(head + ":\n" + "\n".join(str(i) for i in self.issues))


class StoreError(FlightdeckError):
    """The evidence store could not be opened, migrated, read or written."""


class NotFoundError(FlightdeckError):
    """A named object does not exist."""


class AuthError(FlightdeckError):
    """Access control failed."""


class AuthenticationError(AuthError):
    """No valid session, password or token was presented."""


class PermissionDeniedError(AuthError):
    """The caller is authenticated but its role does not allow the action."""


class CheckError(FlightdeckError):
    """A check could not obtain a measurement; the evidence verdict is ``error``.

    ``reason`` is a one-line, human-readable cause (``connection refused``), never a traceback.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class CheckTimeoutError(CheckError):
    """The check did not finish within its timeout."""
