"""How a :class:`~flightdeck.alerting.model.Message` reads, shared by every channel.

- :func:`title_line` — ``[P1] Payments API down`` (prefixed for updates: ``[P1] Resolved: …``);
- :func:`render_text` — the title line, the summary, one line per alert, then the links;
- :func:`render_telegram` — the same in Telegram's HTML subset (``<b>``, ``<a>``);
- :func:`render_html` — an HTML email body (Jinja2, autoescaped).
"""

from __future__ import annotations

import html

from jinja2 import Environment, select_autoescape

from flightdeck.alerting.model import Action, AlertLine, Message

__all__ = [
    "LINK_LABELS",
    "alert_line",
    "render_html",
    "render_telegram",
    "render_text",
    "title_line",
]

_PREFIX = {
    Action.TRIGGER: "",
    Action.UPDATE: "Update: ",
    Action.ACKNOWLEDGE: "Acknowledged: ",
    Action.RESOLVE: "Resolved: ",
    Action.TEST: "Test: ",
}

LINK_LABELS = {"view": "View incident", "ack": "Acknowledge", "resolve": "Resolve"}
"""Link keys of :attr:`Message.links` and how they are labelled; other keys show as they are."""

MAX_ALERTS = 20


def title_line(message: Message) -> str:
    """``[P1] title``, with ``Resolved:`` and the like for updates."""
    return f"[{message.severity}] {_PREFIX[message.action]}{message.title}"


def alert_line(alert: AlertLine) -> str:
    service = f" {alert.service}:" if alert.service else ""
    return f"{alert.state.upper()} [{alert.severity}]{service} {alert.summary or alert.rule}"


def _label(key: str) -> str:
    return LINK_LABELS.get(key, key.replace("_", " ").capitalize())


def _alerts(message: Message) -> tuple[list[AlertLine], int]:
    return message.alerts[:MAX_ALERTS], max(0, len(message.alerts) - MAX_ALERTS)


def render_text(message: Message) -> str:
    """Plain text: title line, summary, alerts (at most 20, then "and N more"), links."""
    lines = [title_line(message)]
    if message.summary:
        lines += ["", message.summary]
    shown, more = _alerts(message)
    if shown:
        lines.append("")
        lines += [f"- {alert_line(a)}" for a in shown]
        if more:
            lines.append(f"- and {more} more")
        runbooks = sorted({a.runbook for a in shown if a.runbook})
        lines += [f"Runbook: {r}" for r in runbooks]
    if message.links:
        lines.append("")
        lines += [f"{_label(k)}: {url}" for k, url in message.links.items()]
    return "\n".join(lines)


def render_telegram(message: Message) -> str:
    """Telegram ``parse_mode=HTML``: only ``<b>`` and ``<a href>``; everything else escaped."""
    esc = html.escape
    lines = [f"<b>{esc(title_line(message))}</b>"]
    if message.summary:
        lines += ["", esc(message.summary)]
    shown, more = _alerts(message)
    if shown:
        lines.append("")
        lines += [f"• {esc(alert_line(a))}" for a in shown]
        if more:
            lines.append(f"• and {more} more")
    if message.links:
        lines.append("")
        lines.append(
            " | ".join(
                f'<a href="{esc(url, quote=True)}">{esc(_label(k))}</a>' for k, url in message.links.items()
            )
        )
    return "\n".join(lines)[:4096]


_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_HTML = _env.from_string(
    """<!doctype html>
<html><body style="font-family: sans-serif">
<h2 style="margin: 0 0 8px 0">{{ title }}</h2>
{% if m.summary %}<p>{{ m.summary }}</p>{% endif %}
{% if m.service %}<p><b>Service:</b> {{ m.service }} &middot; <b>Status:</b> {{ m.status }}</p>{% endif %}
{% if alerts %}<ul>
{% for a in alerts %}<li><b>{{ a.state | upper }}</b> [{{ a.severity }}] {{ a.service }}
{{ a.summary or a.rule }}{% if a.runbook %} &middot; <a href="{{ a.runbook }}">runbook</a>{% endif %}</li>
{% endfor %}{% if more %}<li>and {{ more }} more</li>{% endif %}
</ul>{% endif %}
{% if links %}<p>{% for label, url in links %}<a href="{{ url }}">{{ label }}</a>
{%- if not loop.last %} &middot; {% endif %}{% endfor %}</p>{% endif %}
<p style="color: #777; font-size: small">Sent by flightdeck.</p>
</body></html>
"""
)


def render_html(message: Message) -> str:
    """An HTML email body; every value is escaped."""
    shown, more = _alerts(message)
    return _HTML.render(
        title=title_line(message),
        m=message,
        alerts=shown,
        more=more,
        links=[(_label(k), url) for k, url in message.links.items()],
    )
