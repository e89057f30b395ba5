"""A call's recording in Chromium: the open card's player switches to the CRM's own copy once it
is downloaded, and Chromium seeks in it (HTTP Range, 206)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support import builders
from tests.support.databases import run_core
from tests.support.megafon import post_webhook as webhook
from tests.support.servers import LiveServer
from web.config import Settings
from web.pbx_simulator import SimulatorConfig, create_simulator

pytestmark = pytest.mark.browser

SEEK = """async (selector) => {
  const audio = document.querySelector(selector);
  await new Promise((loaded, failed) => {
    audio.addEventListener("loadedmetadata", loaded, {once: true});
    audio.addEventListener("error", () => failed(new Error("media error " + audio.error.code)));
    audio.preload = "auto";
    audio.load();
  });
  const seeked = new Promise((done) => audio.addEventListener("seeked", done, {once: true}));
  audio.currentTime = 1.0;
  await seeked;
  return {duration: audio.duration, seekable: audio.seekable.end(0), time: audio.currentTime};
}"""


@pytest.fixture
def live_settings(live_settings: Settings, tmp_path: Path) -> Settings:
    """The CRM keeping recordings in `tmp_path`."""
    return replace(live_settings, recordings_dir=tmp_path / "recordings", recording_poll=0.1)


@pytest.fixture
def sim() -> Iterator[LiveServer]:
    """Our PBX simulator, serving the recording."""
    with LiveServer(create_simulator(SimulatorConfig(api_key="sim-token"))) as server:
        yield server


def test_the_card_plays_and_seeks_the_crms_own_copy(
    new_page: Any, live: Any, sim: LiveServer
) -> None:
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's loop
        ids = pool.submit(run_core, live.database_url, builders.call_center).result(timeout=60)
    page = new_page()
    answers: list[tuple[str, int]] = []
    page.on("response", lambda r: answers.append((r.url, r.status)))
    page.goto("/login")
    page.get_by_label("Email *").fill("anna@romashka.ru")
    page.get_by_label("Пароль *").fill(builders.PASSWORD)
    page.get_by_role("button", name="Войти").click()
    page.get_by_role("link", name="Мария Иванова").click()
    page.wait_for_function("document.querySelector('#messages') && window.htmx")

    webhook(
        live.url,
        ids["key"],
        callid="rec-1",
        user="ivanov",
        cmd="history",
        type="in",
        status="Success",
        duration="2",
        link=f"{sim.url}/records/rec-1.wav",
    )
    audio = page.locator("#messages li.call-item audio")
    expect(audio).to_have_attribute("src", re.compile(r"^/recordings/\d+$"))
    seen = page.evaluate(SEEK, "#messages li.call-item audio")
    assert abs(seen["duration"] - 1.5) < 0.05 and abs(seen["seekable"] - 1.5) < 0.05
    assert abs(seen["time"] - 1.0) < 0.05
    assert [s for url, s in answers if "/recordings/" in url and s != 206] == []
    assert [s for url, s in answers if "/recordings/" in url]  # Chromium asked for ranges
