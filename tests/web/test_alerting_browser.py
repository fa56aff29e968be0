"""The alerting pages in headless Chromium: an operator logs in, opens the incidents page, clicks
*Acknowledge*, and sees the incident acknowledged with a dead letter highlighted on its page; a
signed link is confirmed by clicking its button. The pages log no error (a CSP violation is one)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flightdeck.access import Role, create_user
from flightdeck.alerting.incidents import get_incident
from flightdeck.alerting.links import link_key, sign_link
from flightdeck.alerting.model import IncidentStatus
from flightdeck.config import load_config_text
from flightdeck.config.models import Config
from flightdeck.store import Store
from tests.alerting.incident_seed import seed_incident
from tests.web.conftest import PASSWORD
from tests.web.live import serving
from tests.web.test_browser import FLAGS, chromium  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[str, Store, Config]]:
    config = load_config_text(f"store:\n  state_dir: {tmp_path / 'state'}\n", "flightdeck.yaml", env={})
    store = Store(f"sqlite:///{tmp_path / 'flightdeck.db'}")
    store.migrate()
    create_user(store, "pilot", PASSWORD, Role.OPERATOR)
    try:
        with serving(config, store) as base:
            yield base, store, config
    finally:
        store.dispose()


def test_ack_an_incident_by_clicking(chromium: Path, setup: tuple[str, Store, Config]) -> None:  # noqa: F811
    from playwright.sync_api import ConsoleMessage, expect, sync_playwright

    base, store, config = setup
    first = seed_incident(store, title="checkout is down")
    second = seed_incident(store, title="wallets are slow", service="wallets", dead_letter=False)
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            problems.append(f"console {message.type}: {message.text}")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=FLAGS, headless=True)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.goto(base + "/login")
            page.get_by_label("User name").fill("pilot")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(base + "/")
            page.on("console", on_console)
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))

            page.get_by_role("link", name="Incidents").click()
            page.wait_for_url(base + "/incidents")
            expect(page.locator("table.incidents-table tbody tr")).to_have_count(2)
            page.get_by_role("button", name=f"Acknowledge incident {first}").click()
            page.wait_for_url(base + "/incidents")
            row = page.locator("tr", has=page.locator(f'a[href="/incidents/{first}"]')).first
            expect(row.locator(".ist")).to_have_text("acknowledged")
            expect(page.get_by_role("button", name=f"Acknowledge incident {first}")).to_have_count(0)

            page.goto(f"{base}/incidents/{first}")
            expect(page.locator("#incident-status")).to_have_text("acknowledged")
            expect(page.locator("tr.row-dead")).to_have_count(1)
            expect(page.locator("table.timeline")).to_contain_text("acknowledged by pilot (cockpit)")

            # A signed link, opened without a session: it asks, and the click acknowledges.
            anonymous = browser.new_context().new_page()
            anonymous.on("console", on_console)
            token = sign_link(link_key(config), second, "ack", datetime.now(UTC) + timedelta(hours=1))
            anonymous.goto(f"{base}/a/{token}")
            expect(anonymous.get_by_role("heading")).to_contain_text(f"Acknowledge incident #{second}")
            anonymous.get_by_role("button", name="Acknowledge").click()
            expect(anonymous.get_by_role("heading")).to_have_text(f"Incident #{second} acknowledged")
        finally:
            browser.close()
    with store.engine.connect() as conn:
        assert get_incident(conn, first).acknowledged_by == "pilot"
        assert get_incident(conn, second).status is IncidentStatus.ACKNOWLEDGED
        assert get_incident(conn, second).acknowledged_by == "link"
    assert not problems, problems
