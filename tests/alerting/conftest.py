"""Shared alerting fixtures: the local HTTP receiver and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message as MailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from tests.alerting.receiver import Receiver
from tests.engine.conftest import fresh_pg_url, procs  # noqa: F401  (serve-process fixtures)

SMTP_USER = "alerts@example.com"
SMTP_PASSWORD = "smtp-pass-s3cr3t"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A recording HTTP server on 127.0.0.1 (``receiver.url``); answers 200 unless told otherwise."""
    r = Receiver().start()
    yield r
    r.stop()


@dataclass
class Mailbox:
    """What the SMTP server accepted."""

    host: str
    port: int
    messages: list[MailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    refuse: int | None = None  # answer DATA with this code instead of accepting
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self.box.refuse is not None:
            return f"{self.box.refuse} refused by the test server"
        content = envelope.original_content or b""
        with self.box.lock:
            self.box.messages.append(message_from_bytes(content))
            self.box.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _smtp(auth: bool) -> Iterator[Mailbox]:
    box = Mailbox("127.0.0.1", _free_port())
    kwargs: dict[str, Any] = {}
    if auth:

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == (
                SMTP_USER,
                SMTP_PASSWORD,
            )
            if ok:
                box.logins.append(data.login.decode())
            return AuthResult(success=ok, handled=False)

        kwargs = {"authenticator": authenticator, "auth_require_tls": False}
    controller = Controller(_Handler(box), hostname=box.host, port=box.port, **kwargs)
    controller.start()
    yield box
    controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1, no TLS, no auth; records every message."""
    yield from _smtp(auth=False)


@pytest.fixture
def smtp_auth_server() -> Iterator[Mailbox]:
    """Like ``smtp_server`` but login is required (user ``SMTP_USER``, password ``SMTP_PASSWORD``)."""
    yield from _smtp(auth=True)
