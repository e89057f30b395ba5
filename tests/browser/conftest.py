"""Debian's Chromium driven by Playwright against a live server on a fresh database file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live_server import LiveServer
from web.app import create_app
from web.config import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's Chromium is missing: run `make test`, which installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/crm.sqlite3", secret_key="browser", cheap_passwords=True
    )
    with LiveServer(create_app(settings)) as server:
        server.database_url = settings.database_url
        yield server


def expected(console_text: str) -> bool:
    """Chromium logs every 4xx a test provokes on purpose (403 for a manager, 409 for a call)."""
    return console_text.startswith(
        "Failed to load resource: the server responded with a status of 4"
    )


@pytest.fixture
def new_page(chromium: Any, live: LiveServer) -> Iterator[Any]:
    """Fresh browser contexts (separate cookie jars) that fail the test on any console error."""
    contexts, errors = [], []

    def make() -> Any:
        context = chromium.new_context(
            base_url=live.url, locale="ru-RU", viewport={"width": 1280, "height": 860}
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on(
            "console",
            lambda m: m.type == "error" and not expected(m.text) and errors.append(m.text),
        )
        page.on("pageerror", lambda e: errors.append(str(e)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert errors == []


def screenshot(page: Any, name: str, tmp_path: Path) -> None:
    """README pictures are refreshed with UPDATE_SCREENSHOTS=1; otherwise kept out of the tree."""
    folder = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))
