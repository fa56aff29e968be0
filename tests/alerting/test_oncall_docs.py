"""The on-call and escalation pages document every configuration field and every command option."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from pydantic import BaseModel

from flightdeck.cli.oncall_cmd import app
from flightdeck.config.oncall import (
    ContactMethod,
    EscalationLevel,
    EscalationPolicy,
    EscalationTarget,
    LayerConfig,
    OverrideConfig,
    Restriction,
    RotationConfig,
    ScheduleConfig,
    UserConfig,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "alerting"


def mentioned(doc: str, name: str) -> bool:
    return re.search(rf"`{re.escape(name)}(`|:|\.)", doc) is not None


@pytest.mark.parametrize(
    ("page", "model"),
    [
        ("oncall.md", UserConfig),
        ("oncall.md", ContactMethod),
        ("oncall.md", ScheduleConfig),
        ("oncall.md", LayerConfig),
        ("oncall.md", RotationConfig),
        ("oncall.md", Restriction),
        ("oncall.md", OverrideConfig),
        ("escalation.md", EscalationPolicy),
        ("escalation.md", EscalationLevel),
        ("escalation.md", EscalationTarget),
    ],
    ids=lambda v: v if isinstance(v, str) else v.__name__,
)
def test_every_field_is_documented(page: str, model: type[BaseModel]) -> None:
    doc = (DOCS / page).read_text()
    missing = [f for f in model.model_fields if not mentioned(doc, f)]
    assert not missing, f"docs/alerting/{page} does not document {model.__name__} fields {missing}"


def test_every_command_and_option_is_documented() -> None:
    doc = (DOCS / "oncall.md").read_text()
    group = typer.main.get_group(app)
    assert set(group.commands) == {"who", "shifts", "ical"}
    for name, command in group.commands.items():
        assert f"flightdeck oncall {name}" in doc
        options = [o for p in command.params for o in p.opts if o.startswith("--")]
        missing = [o for o in options if o not in doc and o not in ("--config", "--help")]
        assert not missing, f"docs/alerting/oncall.md does not document {name} {missing}"
