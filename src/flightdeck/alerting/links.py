"""Signed, expiring acknowledge/resolve links included in every notification.

A link's token is ``<incident>.<action>.<expires>.<signature>`` where the signature is
HMAC-SHA256 over the first three parts with the alerting signing key. It cannot be forged without
the key, altered (another incident or action) or used after it expires. Using it twice is harmless:
acknowledging an acknowledged incident changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from flightdeck.alerting.errors import LinkError
from flightdeck.config.models import Config

__all__ = ["LinkAction", "SignedLink", "link_expiry", "link_key", "sign_link", "verify_link"]

LinkAction = Literal["ack", "resolve"]


@dataclass(frozen=True)
class SignedLink:
    incident_id: int
    action: LinkAction
    expires_at: datetime


def link_key(config: Config) -> bytes:
    """The signing key: ``alerting.signing_key``, else a random key kept (mode 0600) in the state
    folder, created on first use."""
    if config.alerting.signing_key is not None:
        return config.alerting.signing_key.reveal().encode()
    path: Path = config.alerting.key_path(config.store.state_dir)
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    try:
        os.link(tmp, path)  # first writer wins; another process's key is kept
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes().strip()


def _mac(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def sign_link(key: bytes, incident_id: int, action: LinkAction, expires_at: datetime) -> str:
    """The token for ``action`` on ``incident_id``, valid until ``expires_at``."""
    body = f"{incident_id}.{action}.{int(expires_at.timestamp())}"
    return f"{body}.{_mac(key, body)}"


def verify_link(key: bytes, token: str, now: datetime) -> SignedLink:
    """The link a token stands for; :class:`LinkError` if it is malformed, forged or expired."""
    parts = token.split(".")
    if (
        len(parts) != 4
        or not parts[0].isdigit()
        or parts[1] not in ("ack", "resolve")
        or not parts[2].isdigit()
    ):
        raise LinkError("this link is malformed")
    body = ".".join(parts[:3])
    if not hmac.compare_digest(_mac(key, body), parts[3]):
        raise LinkError("this link is not valid: its signature does not match")
    expires = datetime.fromtimestamp(int(parts[2]), UTC)
    if now >= expires:
        raise LinkError(f"this link expired at {expires.isoformat(timespec='seconds')}")
    action: LinkAction = "ack" if parts[1] == "ack" else "resolve"
    return SignedLink(int(parts[0]), action, expires)


def link_expiry(now: datetime, ttl_seconds: float) -> datetime:
    return now + timedelta(seconds=ttl_seconds)
