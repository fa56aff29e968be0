"""Telegram Bot API: ``POST {base_url}/bot{token}/sendMessage`` to a chat, HTML-formatted.

The bot token is part of the URL, so no error, log line or receipt ever includes the URL. The chat
is the user's address (``to`` of a contact method) or the channel's ``chat_id``.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from flightdeck.alerting.channels.base import Notifier, Receipt, register
from flightdeck.alerting.channels.render import render_telegram
from flightdeck.alerting.errors import PermanentDeliveryError
from flightdeck.alerting.model import Message
from flightdeck.config.channels import TelegramChannel

__all__ = ["TelegramNotifier"]


@register("telegram")
class TelegramNotifier(Notifier):
    config: TelegramChannel

    def body(self, message: Message, chat_id: str) -> dict[str, Any]:
        return {
            "chat_id": chat_id,
            "text": render_telegram(message),
            "parse_mode": "HTML",
            "disable_web_page_preview": True,
        }

    async def send(
        self,
        message: Message,
        *,
        address: str | None,
        idempotency_key: str,
        session: aiohttp.ClientSession,
    ) -> Receipt:
        chat_id = (address or self.config.chat_id or "").strip()
        if not chat_id:
            raise PermanentDeliveryError(f"{self.name}: no chat to send to (set chat_id or the user's to)")
        url = f"{self.config.base_url}/bot{self.config.bot_token.reveal()}/sendMessage"
        return await self.post_json(
            session, url, self.body(message, chat_id), idempotency_key=idempotency_key
        )
