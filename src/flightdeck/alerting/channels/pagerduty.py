"""PagerDuty Events API v2: ``POST {base_url}/v2/enqueue``.

The incident's ``dedup_key`` (``flightdeck-incident-<id>``) is the same for trigger, acknowledge and
resolve, so PagerDuty keeps one alert per flightdeck incident. Severity: P1 and security → critical,
P2 → error, P3 → warning, a test message → info. PagerDuty answers 202 when it accepted the event.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from flightdeck.alerting.channels.base import Notifier, Receipt, register
from flightdeck.alerting.channels.render import LINK_LABELS, alert_line, title_line
from flightdeck.alerting.model import Action, Message
from flightdeck.config.channels import PagerDutyChannel

__all__ = ["EVENT_ACTIONS", "SEVERITIES", "PagerDutyNotifier"]

EVENT_ACTIONS = {
    Action.TRIGGER: "trigger",
    Action.UPDATE: "trigger",
    Action.TEST: "trigger",
    Action.ACKNOWLEDGE: "acknowledge",
    Action.RESOLVE: "resolve",
}
SEVERITIES = {"P1": "critical", "security": "critical", "P2": "error", "P3": "warning"}


@register("pagerduty")
class PagerDutyNotifier(Notifier):
    config: PagerDutyChannel

    def body(self, message: Message) -> dict[str, Any]:
        action = EVENT_ACTIONS[message.action]
        event: dict[str, Any] = {
            "routing_key": self.config.routing_key.reveal(),
            "event_action": action,
            "dedup_key": message.dedup_key,
        }
        if action == "trigger":
            severity = "info" if message.action is Action.TEST else SEVERITIES.get(message.severity, "error")
            event["payload"] = {
                "summary": title_line(message)[:1024],
                "source": "flightdeck",
                "severity": severity,
                "custom_details": {
                    "summary": message.summary,
                    "status": message.status,
                    "incident_id": message.incident_id,
                    "alerts": [alert_line(a) for a in message.alerts[:50]],
                },
            }
            if message.service:
                event["payload"]["component"] = message.service
            event["links"] = [
                {"href": url, "text": LINK_LABELS.get(key, key)} for key, url in message.links.items()
            ]
        return event

    async def send(
        self,
        message: Message,
        *,
        address: str | None,
        idempotency_key: str,
        session: aiohttp.ClientSession,
    ) -> Receipt:
        return await self.post_json(
            session,
            f"{self.config.base_url}/v2/enqueue",
            self.body(message),
            idempotency_key=idempotency_key,
        )
