"""Documentation that drifts from the code fails the suite."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from flightdeck.checks.base import CHECKS
from flightdeck.config import (
    CheckDefaults,
    CheckSpec,
    DatasourceConfig,
    RetentionConfig,
    SchedulerConfig,
    ServerConfig,
    ServiceConfig,
    StoreConfig,
    known_kinds,
)
from flightdeck.config.alerting import AlertingConfig, GroupingConfig
from flightdeck.config.channels import ChannelBase
from flightdeck.config.models import Config
from flightdeck.config.oncall import OncallConfig

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def mentioned(doc: str, name: str) -> bool:
    return re.search(rf"`{re.escape(name)}(`|:|\.)", doc) is not None


@pytest.mark.parametrize(
    "model",
    [
        Config,
        ServerConfig,
        StoreConfig,
        RetentionConfig,
        SchedulerConfig,
        CheckDefaults,
        DatasourceConfig,
        ServiceConfig,
        CheckSpec,
        AlertingConfig,
        GroupingConfig,
        ChannelBase,
        OncallConfig,
    ],
    ids=lambda m: m.__name__,
)
def test_configuration_reference_documents_every_field(model: type[BaseModel]) -> None:
    doc = (DOCS / "configuration.md").read_text()
    missing = [f for f in model.model_fields if not mentioned(doc, f)]
    assert not missing, f"docs/configuration.md does not document {model.__name__} fields {missing}"


@pytest.mark.parametrize("kind", known_kinds())
def test_every_check_kind_has_a_reference_documenting_its_fields(kind: str) -> None:
    if CHECKS[kind].__module__.startswith("tests."):
        pytest.skip("a kind registered by a test")
    page = DOCS / "checks" / f"{kind}.md"
    assert page.exists(), f"check kind {kind!r} has no docs/checks/{kind}.md"
    doc = page.read_text()
    spec = CHECKS[kind].spec_type
    own = [f for f in spec.model_fields if f not in CheckSpec.model_fields]
    missing = [f for f in own if not mentioned(doc, f)]
    assert not missing, f"docs/checks/{kind}.md does not document {missing}"
    assert kind in (DOCS / "configuration.md").read_text(), f"docs/configuration.md does not link {kind}"


def test_readme_shows_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme
    assert "make test" in readme


def test_docs_links_resolve() -> None:
    broken = []
    for page in [ROOT / "README.md", *DOCS.rglob("*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} → {target}")
    assert not broken, "broken links: " + ", ".join(broken)
