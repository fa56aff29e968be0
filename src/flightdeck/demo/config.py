"""The demo configuration: the bundled template, filled in with this estate's ports and paths.

Placeholders are ``@NAME@``. Blocks between ``# @if NAME`` and ``# @end`` are kept only when the
local server ``NAME`` (postgres, mysql, redis) was reachable when the demo started.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from importlib import resources
from pathlib import Path

from flightdeck.config.types import format_duration
from flightdeck.demo.servers import LocalServer

__all__ = ["TEMPLATE_NAME", "config_values", "render_config", "template_text"]

TEMPLATE_NAME = "flightdeck-demo.yaml"
_PLACEHOLDER = re.compile(r"@([A-Z][A-Z0-9_]*)@")
_BLOCK = re.compile(r"^[ \t]*# @if ([a-z]+)[ \t]*\n(.*?)^[ \t]*# @end[ \t]*\n", re.MULTILINE | re.DOTALL)


def template_text() -> str:
    return (resources.files("flightdeck.demo") / TEMPLATE_NAME).read_text(encoding="utf-8")


def render_config(
    values: Mapping[str, str], enabled: Collection[str] = (), template: str | None = None
) -> str:
    """Fill the template. Every placeholder must have a value (``KeyError`` otherwise)."""
    text = template_text() if template is None else template
    text = _BLOCK.sub(lambda m: m.group(2) if m.group(1) in enabled else "", text)
    missing = sorted({name for name in _PLACEHOLDER.findall(text) if name not in values})
    if missing:
        raise KeyError(f"demo configuration template needs values for {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def config_values(
    *,
    cockpit_port: int,
    service_http_port: int,
    service_https_port: int,
    ca_file: Path,
    payments_db: Path,
    servers: Iterable[LocalServer] = (),
    interval: float = 10.0,
) -> dict[str, str]:
    """The template's placeholders for one estate. Paths are written as quoted YAML strings."""
    values = {
        "INTERVAL": format_duration(interval),
        "COCKPIT_PORT": str(cockpit_port),
        "SERVICE_HTTP": f"http://127.0.0.1:{service_http_port}",
        "SERVICE_HTTPS": f"https://127.0.0.1:{service_https_port}",
        "SERVICE_HTTP_PORT": str(service_http_port),
        "SERVICE_HTTPS_PORT": str(service_https_port),
        "CA_FILE": json.dumps(str(ca_file)),
        "PAYMENTS_DB_URL": json.dumps(f"sqlite:///{payments_db}"),
    }
    for server in servers:
        values[f"{server.kind.upper()}_URL"] = json.dumps(server.config_url)
    return values
