"""Debian's Chromium driven by Playwright against a live server on a fresh database file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.chromium import CHROMIUM, expected, launch, open_page
from tests.support.servers import LiveServer
from web.app import create_app
from web.config import Settings

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's Chromium is missing: run `make test`, which installs it")
    with launch() as browser:
        yield browser


@pytest.fixture
def live_settings(tmp_path: Path) -> Settings:
    """The live CRM's settings; a test module overrides this fixture to change some."""
    return Settings(
        database_url=f"sqlite:///{tmp_path}/crm.sqlite3",
        secret_key="browser",
        cheap_passwords=True,
        pbx_allow_private=True,
    )


@pytest.fixture
def live(live_settings: Settings) -> Iterator[LiveServer]:
    settings = live_settings
    with LiveServer(create_app(settings)) as server:
        server.database_url = settings.database_url
        yield server


@pytest.fixture
def new_page(chromium: Any, live: LiveServer) -> Iterator[Any]:
    """Fresh browser contexts (separate cookie jars) that fail the test on any console error."""
    pages, errors = [], []

    def make() -> Any:
        page = open_page(chromium, live.url)
        pages.append(page)
        page.on(
            "console",
            lambda m: m.type == "error" and not expected(m.text) and errors.append(m.text),
        )
        page.on("pageerror", lambda e: errors.append(str(e)))
        return page

    yield make
    for page in pages:
        page.context.close()
    assert errors == []
