"""The Studio unlock in a real browser (headless Debian Chromium driven by Playwright)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_server import LiveServer, start_live_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.live,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_live_server(tmp_path_factory.mktemp("studio") / "data")
    yield live
    live.stop()


def test_unlock_with_the_printed_secret_then_open_the_admin(server: LiveServer) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page()
        page.goto(server.url + "/")
        assert page.url.endswith("/studio/login/")
        page.fill("#secret", "wrong-secret")
        page.click("button[type=submit]")
        assert page.locator(".error").inner_text() == "That secret is not valid."
        page.screenshot(path=str(ARTIFACTS / "studio-login-error.png"))

        page.fill("#secret", server.admin_secret())
        page.click("button[type=submit]")
        page.wait_for_url("**/studio/")
        assert page.locator("h1").inner_text() == "Apps"
        assert "default" in page.locator("table").inner_text()
        page.screenshot(path=str(ARTIFACTS / "studio-home.png"))

        page.click("text=Admin")
        page.wait_for_url("**/studio/admin/")
        assert "Hector Studio admin" in page.content()
        page.screenshot(path=str(ARTIFACTS / "studio-admin.png"))

        page.goto(server.url + "/studio/")
        page.click("text=Log out")
        page.wait_for_url("**/studio/login/")
        browser.close()
