"""Turning low-level exceptions into one-line reasons a person on call can act on."""

from __future__ import annotations

import errno
import socket
import ssl

__all__ = ["describe_os_error"]

_ERRNO = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset by peer",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "connection timed out",
    errno.EPIPE: "connection closed by peer",
}


def describe_os_error(exc: BaseException) -> str:
    """``ConnectionRefusedError(111, ...)`` → ``connection refused``; DNS and TLS errors likewise."""
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host name ({exc.strerror or exc})"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed: {exc.verify_message or exc.reason}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, OSError):
        # Multi-address connect failures carry the errno in the message only.
        if exc.errno in _ERRNO:
            return _ERRNO[exc.errno]
        text = str(exc)
        for code, reason in _ERRNO.items():
            if f"[Errno {code}]" in text:
                return reason
        return exc.strerror or text or type(exc).__name__
    return str(exc) or type(exc).__name__
