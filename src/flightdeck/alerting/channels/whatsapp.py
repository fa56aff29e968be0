"""WhatsApp Cloud API: a template message (the only kind a business may start a conversation with).

``POST {base_url}/{phone_number_id}/messages`` with ``Authorization: Bearer <access_token>``. The
approved template's body has three text variables, in this order:

1. ``{{1}}`` — the severity (``P1``);
2. ``{{2}}`` — the title line (``Payments API down``, ``Resolved: Payments API down``);
3. ``{{3}}`` — the acknowledge link (or the incident link when there is none to acknowledge).

The address is the user's phone number in international form; everything but digits is dropped.
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from flightdeck.alerting.channels.base import Notifier, Receipt, register
from flightdeck.alerting.channels.render import title_line
from flightdeck.alerting.errors import PermanentDeliveryError
from flightdeck.alerting.model import Action, Message
from flightdeck.config.channels import WhatsAppChannel

__all__ = ["WhatsAppNotifier", "template_parameters"]

_MAX_PARAM = 1000


def _clean(text: str) -> str:
    """Template parameters may not hold newlines, tabs or more than four spaces in a row."""
    return re.sub(r"\s+", " ", text).strip()[:_MAX_PARAM] or "-"


def template_parameters(message: Message) -> list[str]:
    """The three body variables: severity, title line, acknowledge (else view) link."""
    title = title_line(message).removeprefix(f"[{message.severity}] ")
    link = message.links.get("ack") if message.action in (Action.TRIGGER, Action.UPDATE) else None
    link = link or message.links.get("view") or "-"
    return [_clean(message.severity), _clean(title), _clean(link)]


@register("whatsapp")
class WhatsAppNotifier(Notifier):
    config: WhatsAppChannel

    def body(self, message: Message, to: str) -> dict[str, Any]:
        return {
            "messaging_product": "whatsapp",
            "to": to,
            "type": "template",
            "template": {
                "name": self.config.template,
                "language": {"code": self.config.language},
                "components": [
                    {
                        "type": "body",
                        "parameters": [{"type": "text", "text": p} for p in template_parameters(message)],
                    }
                ],
            },
        }

    async def send(
        self,
        message: Message,
        *,
        address: str | None,
        idempotency_key: str,
        session: aiohttp.ClientSession,
    ) -> Receipt:
        to = re.sub(r"\D", "", address or "")
        if not to:
            raise PermanentDeliveryError(f"{self.name}: no phone number to send a WhatsApp message to")
        url = f"{self.config.base_url}/{self.config.phone_number_id}/messages"
        headers = {"Authorization": f"Bearer {self.config.access_token.reveal()}"}
        return await self.post_json(
            session, url, self.body(message, to), idempotency_key=idempotency_key, headers=headers
        )
