"""Email over SMTP (aiosmtplib): a text body with an HTML alternative.

Subject ``[P1] title``; ``Message-ID`` derived from the idempotency key (a receiving server or client
that saw it once can drop a repeat); To the user's address, else the channel's ``to`` list. Security
``starttls`` (upgrade after connecting, default port 587), ``tls`` (implicit TLS, port 465) or
``none``; login when ``username`` is set. SMTP 5xx answers are permanent; 4xx, timeouts and
connection errors are retried.
"""

from __future__ import annotations

import hashlib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

import aiohttp
import aiosmtplib

from flightdeck.alerting.channels.base import Notifier, Receipt, register
from flightdeck.alerting.channels.render import render_html, render_text, title_line
from flightdeck.alerting.errors import PermanentDeliveryError, RetryableDeliveryError
from flightdeck.alerting.model import Message
from flightdeck.config.channels import EmailChannel, check_email

__all__ = ["EmailNotifier", "message_id"]


def message_id(idempotency_key: str, sender: str) -> str:
    """``<hash-of-key@sender-domain>``: the same notification always has the same Message-ID."""
    domain = sender.rsplit("@", 1)[-1].strip(" >") or "flightdeck"
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


@register("email")
class EmailNotifier(Notifier):
    config: EmailChannel

    def recipients(self, address: str | None) -> list[str]:
        if address:
            try:
                return [check_email(address)]
            except ValueError as exc:
                raise PermanentDeliveryError(f"{self.name}: {exc}") from None
        if self.config.to:
            return list(self.config.to)
        raise PermanentDeliveryError(f"{self.name}: no recipient (set to on the channel or the user)")

    def build(self, message: Message, recipients: list[str], idempotency_key: str) -> EmailMessage:
        mail = EmailMessage()
        mail["Subject"] = title_line(message)
        mail["From"] = self.config.sender
        mail["To"] = ", ".join(recipients)
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = message_id(idempotency_key, self.config.sender)
        mail["X-Flightdeck-Idempotency-Key"] = idempotency_key
        if message.incident_id is not None:
            mail["X-Flightdeck-Incident"] = str(message.incident_id)
        mail.set_content(render_text(message))
        mail.add_alternative(render_html(message), subtype="html")
        return mail

    async def send(
        self,
        message: Message,
        *,
        address: str | None,
        idempotency_key: str,
        session: aiohttp.ClientSession,
    ) -> Receipt:
        recipients = self.recipients(address)
        mail = self.build(message, recipients, idempotency_key)
        cfg = self.config
        try:
            errors, response = await aiosmtplib.send(
                mail,
                hostname=cfg.host,
                port=cfg.port,
                username=cfg.username,
                password=cfg.password.reveal() if cfg.password is not None else None,
                use_tls=cfg.security == "tls",
                start_tls=cfg.security == "starttls",
                timeout=cfg.timeout,
                tls_context=ssl.create_default_context() if cfg.security != "none" else None,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [e.code for e in exc.recipients]
            detail = "; ".join(f"{e.code} {e.message}" for e in exc.recipients)
            error = f"{self.name}: recipients refused: {self.scrub(detail)}"
            if codes and all(c >= 500 for c in codes):
                raise PermanentDeliveryError(error, codes[0]) from None
            raise RetryableDeliveryError(error, codes[0] if codes else None) from None
        except aiosmtplib.SMTPResponseException as exc:
            error = f"{self.name}: SMTP {exc.code} {self.scrub(exc.message)}"
            if exc.code >= 500:
                raise PermanentDeliveryError(error, exc.code) from None
            raise RetryableDeliveryError(error, exc.code) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise RetryableDeliveryError(
                f"{self.name}: SMTP connection failed ({type(exc).__name__})"
            ) from None
        refused = {to: err for to, err in errors.items() if to in recipients}
        if refused and len(refused) == len(recipients):
            raise RetryableDeliveryError(f"{self.name}: every recipient was refused")
        return Receipt(250, f"{self.name}: SMTP accepted ({self.scrub(response.strip())[:200]})")
