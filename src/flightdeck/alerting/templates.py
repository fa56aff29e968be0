"""Alert summaries from a rule's Jinja2 template, rendered in a sandbox.

A rule's ``summary`` (and ``description``) is a Jinja2 template rendered with
:class:`jinja2.sandbox.SandboxedEnvironment`, so a template cannot reach Python internals. The
variables a template sees: ``rule``, ``severity``, ``service``, ``check``, ``subject``, ``value``,
``threshold``, ``labels`` and, by rule type, ``consecutive``, ``for``, ``measurement``, ``aggregate``,
``window``, ``op``, ``evidence_summary``, ``age``, ``max_age``, ``count``, ``key``, ``baseline_rate``.
A template that fails to render falls back to the rule type's default summary (and is logged), so a
typo never loses an alert.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

__all__ = ["human_duration", "render_summary"]

log = logging.getLogger(__name__)

_ENV = SandboxedEnvironment(autoescape=False, trim_blocks=True, lstrip_blocks=True)
_MAX = 500


def _fmt(value: Any) -> Any:
    """Numbers as a person writes them: 412.0 → 412, 0.123456 → 0.1235."""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.6g}"
    return value


_ENV.filters["num"] = _fmt


@lru_cache(maxsize=512)
def _compiled(text: str) -> Template:
    return _ENV.from_string(text)


def render_summary(template: str, variables: Mapping[str, Any], default: str) -> str:
    """Render ``template`` with ``variables``; ``default`` when the template is empty or fails.
    The result is one line of at most 500 characters."""
    text = default
    if template.strip():
        try:
            text = _compiled(template).render(**{k: _fmt(v) for k, v in variables.items()})
        except TemplateError as exc:
            log.warning("alert summary template of rule %s failed: %s", variables.get("rule"), exc)
            text = default
        except (TypeError, ValueError, ArithmeticError) as exc:
            log.warning("alert summary template of rule %s failed: %s", variables.get("rule"), exc)
            text = default
    line = " ".join(text.split())
    return line[:_MAX]


def human_duration(seconds: float) -> str:
    """``45s``, ``12m``, ``2h 5m``, ``3d 4h``."""
    s = round(max(0.0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        m, r = divmod(s, 60)
        return f"{m}m" if not r else f"{m}m {r}s"
    if s < 86400:
        h, r = divmod(s, 3600)
        return f"{h}h" if r < 60 else f"{h}h {r // 60}m"
    d, r = divmod(s, 86400)
    return f"{d}d" if r < 3600 else f"{d}d {r // 3600}h"
