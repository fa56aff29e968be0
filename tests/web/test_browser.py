"""The cockpit in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright.

The real server (``flightdeck.server.serve``, uvicorn on 127.0.0.1 port 0) serves a store holding
a day of real evidence from HTTP, TCP, SQL and metrics checks against a local target. The test
logs in, reads the overview, clicks into a check, reads its history and its last failure, runs it
now, and checks the phone layout; the page must log no error (a CSP violation is one).
Screenshots go to ``$FLIGHTDECK_SCREENSHOTS`` (or the test's temporary folder).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from flightdeck.access import Role, create_user
from flightdeck.store import Store
from tests.conftest import REQUIRE_SERVICES
from tests.web.conftest import PASSWORD
from tests.web.estate import closed_port, estate_config, seed
from tests.web.live import serving
from tests.web.target import running_target

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if REQUIRE_SERVICES:
            pytest.fail(message + " and FLIGHTDECK_REQUIRE_SERVICES=1")
        pytest.skip(message)
    pytest.importorskip("playwright.sync_api")
    return CHROMIUM


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("FLIGHTDECK_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def live(tmp_path: Path) -> Iterator[str]:
    with running_target() as target, closed_port() as closed:
        config = estate_config(tmp_path, target, closed, refresh=2)
        url = f"sqlite:///{tmp_path / 'flightdeck.db'}"
        store = Store(url)
        store.migrate()
        seed(url, config, target, rounds=24)
        create_user(store, "pilot", PASSWORD, Role.OPERATOR)
        try:
            with serving(config, store) as base:
                yield base
        finally:
            store.dispose()


def test_log_in_overview_check_history(chromium: Path, live: str, shots: Path) -> None:
    from playwright.sync_api import ConsoleMessage, expect, sync_playwright

    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            problems.append(f"console {message.type}: {message.text}")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=FLAGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.on("console", on_console)
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))

            # Unauthenticated: a 401 with the login form, no data.
            response = page.goto(live + "/")
            assert response is not None
            assert response.status == 401
            expect(page.get_by_role("heading", name="Log in")).to_be_visible()
            assert "billing" not in page.content()
            page.screenshot(path=str(shots / "login-desktop.png"))

            page.get_by_label("User name").fill("pilot")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(live + "/")
            problems.clear()  # the 401 of the first visit is logged as a failed load: expected

            # The overview: every check, the failing one first, figures and a sparkline each.
            expect(page.get_by_role("heading", name="Overview")).to_be_visible()
            rows = page.locator("table.checks tbody tr")
            expect(rows).to_have_count(5)
            expect(rows.first).to_contain_text("billing/gateway")
            expect(rows.first.locator(".badge")).to_have_text("error")
            shop_health = page.locator("tr", has=page.locator('a[href="/checks/shop/health"]'))
            expect(shop_health.locator("td[data-label='Uptime 24 h']")).to_contain_text("%")
            expect(shop_health.locator("svg.spark polyline").first).to_be_attached()
            page.screenshot(path=str(shots / "overview-desktop.png"), full_page=True)

            # Into a check: chart, history, last failure.
            page.locator('a.check-link[href="/checks/shop/health"]').click()
            page.wait_for_url(live + "/checks/shop/health")
            expect(page.get_by_role("heading", name="health")).to_be_visible()
            expect(page.locator("svg.chart polyline.line").first).to_be_attached()
            history = page.locator("table.history tbody tr")
            expect(history).to_have_count(24)
            expect(history.locator(".badge", has_text="fail")).to_have_count(3)
            failure = page.locator("section.failure")
            expect(failure).to_contain_text("Last failure")
            expect(failure.locator("pre.json")).to_contain_text("503")
            page.screenshot(path=str(shots / "check-desktop.png"), full_page=True)

            # Auto-refresh swaps the page content in place and keeps the scroll position.
            page.mouse.wheel(0, 600)
            page.wait_for_function("window.scrollY > 300")
            scrolled = page.evaluate("window.scrollY")
            generated = page.locator("main").get_attribute("data-generated")
            page.wait_for_function(
                "g => document.querySelector('main').dataset.generated !== g", arg=generated, timeout=20_000
            )
            assert page.evaluate("window.scrollY") == scrolled

            # One record of the history, then run the check now (an operator may).
            history.first.get_by_role("link").click()
            expect(page.get_by_role("heading", name=re.compile(r"Evidence #\d+"))).to_be_visible()
            expect(page.locator("table.kv")).to_contain_text("latency_ms")
            page.go_back()
            page.get_by_role("button", name="Run now").click()
            page.wait_for_url(re.compile(r".*/evidence/\d+$"))
            expect(page.locator(".facts")).to_contain_text("manual")

            page.goto(live + "/services/shop")
            # One panel per measurement of the sql check (its result) and the metrics check.
            expect(page.locator("article.panel")).to_have_count(8)
            expect(page.get_by_role("heading", name="Shop CPU")).to_be_visible()
            expect(page.get_by_role("heading", name="Orders (1 h)")).to_be_visible()
            page.screenshot(path=str(shots / "service-desktop.png"), full_page=True)

            # The API's documentation: Swagger UI from the installed package, under the same CSP.
            page.goto(live + "/docs")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("flightdeck")
            expect(page.locator(".opblock-summary-path").first).to_be_visible()
            page.screenshot(path=str(shots / "docs-desktop.png"))

            # A phone: no sideways scrolling, the checks as cards.
            phone = browser.new_context(
                viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True
            )
            phone.add_cookies(context.cookies())
            small = phone.new_page()
            small.on("console", on_console)
            for path, name in [
                ("/", "overview"),
                ("/checks/shop/health", "check"),
                ("/services/shop", "service"),
            ]:
                small.goto(live + path)
                assert small.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
                small.screenshot(path=str(shots / f"{name}-phone.png"))
            dark = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="dark")
            dark.add_cookies(context.cookies())
            night = dark.new_page()
            night.goto(live + "/checks/shop/health")
            night.screenshot(path=str(shots / "check-desktop-dark.png"))
            button = small.get_by_role("button", name="Log out").bounding_box()
            assert button is not None
            assert button["height"] >= 40
        finally:
            browser.close()
    assert not problems, problems
