"""What every step of an experiment shares: the clock, the configuration's checks, the HTTP client,
the secrets to mask, and the :class:`Outcome` a step reports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import JsonValue

from flightdeck.checks.base import CheckContext
from flightdeck.checks.request import credential_values, is_sensitive_name
from flightdeck.clock import Clock
from flightdeck.config.experiments import ExperimentConfig
from flightdeck.config.models import Config
from flightdeck.datasources import DatabaseUrl
from flightdeck.engine.runner import PreparedCheck, prepare_checks
from flightdeck.evidence import scrub
from flightdeck.secret import redact_url

__all__ = ["OUTPUT_LIMIT", "Outcome", "RunContext", "experiment_secrets"]

OUTPUT_LIMIT = 2000
"""Characters of a step's output kept in the journal (the end of it: where errors are)."""


@dataclass
class Outcome:
    """What one attempt of a step came to: ``ok`` (an action succeeded, a probe held) and a short,
    already-scrubbed ``output``."""

    ok: bool
    output: str = ""
    detail: dict[str, JsonValue] = field(default_factory=dict)


def experiment_secrets(config: Config, experiment: ExperimentConfig) -> tuple[str, ...]:
    """Every value that must never be written: the configuration's secrets, credential-like header
    values and URL passwords of HTTP steps, credential-like environment values of commands, and the
    password of a restore target."""
    found: set[str] = set(config.secret_values())
    steps: list[Any] = [*experiment.steady_state, *experiment.method, *experiment.rollbacks]
    if experiment.recovery is not None:
        steps.extend(experiment.recovery.probes)
    for step in steps:
        headers = getattr(step, "headers", None)
        url = getattr(step, "url", None)
        if isinstance(headers, dict) and isinstance(url, str):
            found.update(credential_values(headers, url))
        env = getattr(step, "env", None)
        if isinstance(env, dict):
            found.update(v for k, v in env.items() if is_sensitive_name(k) and v)
        to = getattr(step, "to", None)
        if to is not None:
            try:
                password = DatabaseUrl.parse(to).password
            except ValueError:
                password = None
            if password is not None:
                found.add(password.reveal())
    return tuple(sorted(s for s in found if s))


@dataclass
class RunContext:
    """Shared by the steps of one run. ``checks`` are prepared on first use of a ``check`` probe."""

    config: Config
    experiment: ExperimentConfig
    clock: Clock
    checks_context: CheckContext
    secrets: tuple[str, ...]
    _prepared: dict[str, PreparedCheck] | None = None

    def clean(self, text: str, limit: int = OUTPUT_LIMIT) -> str:
        """``text`` with secrets and URL passwords masked, cut to its last ``limit`` characters."""
        masked = scrub(redact_url(text), self.secrets)
        out = str(masked).strip()
        return out if len(out) <= limit else "…" + out[-(limit - 1) :]

    def clean_all(self, parts: Iterable[str]) -> str:
        return self.clean("; ".join(p for p in parts if p))

    def prepared_check(self, subject: str) -> PreparedCheck:
        if self._prepared is None:
            everything = prepare_checks(self.config, self.checks_context, include_disabled=True)
            self._prepared = {c.subject: c for c in everything}
        return self._prepared[subject]
