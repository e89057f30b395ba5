"""A call reported by the PBX, as a manager and an admin see it in Chromium."""

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from playwright.sync_api import expect

from core.db import Database
from tests.support import builders
from tests.support import megafon as samples
from tests.support.chromium import screenshot

pytestmark = pytest.mark.browser


async def project_with_key(url):
    async with Database(url) as db:
        return await builders.team_with_key(db)


def test_a_call_lands_in_the_card_and_the_journal(new_page, live, tmp_path):
    # Playwright's sync API holds this thread's event loop: set up data from another thread.
    with ThreadPoolExecutor(1) as pool:
        key = pool.submit(asyncio.run, project_with_key(live.database_url)).result(timeout=60)
    for sample in (
        samples.W3,
        {**samples.W3, "type": "ACCEPTED"},
        {**samples.W3, "type": "COMPLETED"},
        samples.W8,
        samples.W8,
        {"cmd": "event", "type": "RINGING"},
    ):
        httpx.post(f"{live.url}/megafon_webhook", data={**sample, "crm_token": key})

    page = new_page()
    page.goto("/login")
    page.get_by_label("Email *").fill("anna@romashka.ru")
    page.get_by_label("Пароль *").fill(builders.PASSWORD)
    page.get_by_role("button", name="Войти").click()
    page.get_by_label("Поиск клиентов").fill("8 926 555 01 01")
    page.locator("#results tbody a").first.click()
    expect(page.locator("#messages")).to_contain_text("megafon_call_event ACCEPTED")
    expect(page.locator("#messages li.system")).to_have_count(3)  # inside the call's one item
    call = page.locator("#messages > li.call-item")
    expect(call).to_have_count(1)
    expect(call).to_contain_text("Входящий")
    expect(call).to_contain_text("Успешный")
    expect(call).to_contain_text("3:04")
    expect(call).to_contain_text("Иван Петров")
    expect(call.locator("audio")).to_have_attribute("src", samples.RECORD)
    expect(page.locator("#variables")).to_contain_text("megafon_call_id")
    screenshot(page, "client-call", tmp_path)

    page.get_by_role("link", name="Журнал вебхуков").click()
    expect(page.locator("tbody .badge")).to_have_text(
        ["отклонён", "повтор", "выполнен", "выполнен", "выполнен", "выполнен"]
    )
    expect(page.locator("tbody tr").first).to_contain_text(re.compile("type.*RINGING"))
    screenshot(page, "webhook-journal", tmp_path)
