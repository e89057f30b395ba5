"""Debian's Chromium driven by Playwright: how it is launched, which console errors a test
provokes on purpose, and the README's screenshots."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
TIMEOUT_MS = 10_000  # every Playwright wait and expect() gives up after this


@contextmanager
def launch() -> Iterator[Any]:
    """A headless Chromium for as long as the block runs."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=30_000
        )
        try:
            yield browser
        finally:
            browser.close()


def open_page(chromium: Any, base_url: str) -> Any:
    """A page in a fresh context (its own cookie jar), waiting at most TIMEOUT_MS for anything."""
    context = chromium.new_context(
        base_url=base_url, locale="ru-RU", viewport={"width": 1280, "height": 860}
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def expected(console_text: str) -> bool:
    """Chromium logs every 4xx a test provokes on purpose (403 for a manager, 409 for a call)."""
    return console_text.startswith(
        "Failed to load resource: the server responded with a status of 4"
    )


def screenshot(page: Any, name: str, tmp_path: Path) -> None:
    """README pictures are refreshed with UPDATE_SCREENSHOTS=1; otherwise kept out of the tree."""
    folder = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))
