"""Slack incoming webhook: ``POST <webhook_url>`` with a plain-text fallback and Block Kit blocks
(header, summary, alerts, context, buttons to view, acknowledge and resolve). The URL is the secret:
it is never echoed."""

from __future__ import annotations

from typing import Any

import aiohttp

from flightdeck.alerting.channels.base import Notifier, Receipt, register
from flightdeck.alerting.channels.render import LINK_LABELS, MAX_ALERTS, alert_line, render_text, title_line
from flightdeck.alerting.model import Message
from flightdeck.config.channels import SlackChannel

__all__ = ["SlackNotifier", "slack_blocks"]


def _mrkdwn_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_blocks(message: Message) -> list[dict[str, Any]]:
    """Block Kit blocks for ``message`` (header text is limited to 150 characters by Slack)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title_line(message)[:150], "emoji": True}}
    ]
    lines = [_mrkdwn_escape(message.summary)] if message.summary else []
    lines += [f"• {_mrkdwn_escape(alert_line(a))}" for a in message.alerts[:MAX_ALERTS]]
    if len(message.alerts) > MAX_ALERTS:
        lines.append(f"• and {len(message.alerts) - MAX_ALERTS} more")
    if lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}})
    context = [f"*Severity:* {message.severity}", f"*Status:* {message.status}"]
    if message.service:
        context.append(f"*Service:* {_mrkdwn_escape(message.service)}")
    if message.incident_id is not None:
        context.append(f"*Incident:* #{message.incident_id}")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": c} for c in context]})
    buttons = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": LINK_LABELS.get(key, key)},
            "url": url,
            "action_id": f"flightdeck_{key}",
            **({"style": "primary"} if key == "ack" else {}),
        }
        for key, url in message.links.items()
    ]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons[:25]})
    return blocks


@register("slack")
class SlackNotifier(Notifier):
    config: SlackChannel

    def body(self, message: Message) -> dict[str, Any]:
        return {"text": render_text(message), "blocks": slack_blocks(message)}

    async def send(
        self,
        message: Message,
        *,
        address: str | None,
        idempotency_key: str,
        session: aiohttp.ClientSession,
    ) -> Receipt:
        return await self.post_json(
            session, self.config.webhook_url.reveal(), self.body(message), idempotency_key=idempotency_key
        )
