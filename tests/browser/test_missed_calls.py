"""«Пропущенные» in Chromium: a missed call waits in the queue with the nav's count; the manager
calls back from the row through our PBX simulator, and when the client answers the item leaves
the queue and the count drops, live, without a reload."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from core import projects
from core.db import Database
from core.telephony import connection
from tests.support import builders
from tests.support.chromium import screenshot
from tests.support.servers import LiveServer
from web.pbx_simulator import SimulatorConfig, create_simulator

pytestmark = pytest.mark.browser
TOKEN = "sim-api-token-5678"
MARIA = "79265550101"


async def project(url):
    async with Database(url) as db:
        admin = await builders.admin(db, email="anna@romashka.ru")
        key = await projects.generate_api_key(db, admin["project_id"])
        await builders.manager(
            db,
            admin["project_id"],
            name="Иван Петров",
            email="ivan@romashka.ru",
            call_method="megafon_api",
            pbx_user="admin",  # the simulator's first employee
        )
        await builders.client(db, admin["project_id"], phone="+7 926 555-01-01")
        await builders.client(db, admin["project_id"], name="Пётр", phone="+7 903 123-45-67")
        return admin["project_id"], key


async def connect(url, project_id, pbx_url):
    async with Database(url) as db:
        await connection.save(db, project_id, TOKEN, pbx_url, allow_private=True)


def test_a_callback_from_the_queue_closes_the_item_live(new_page, live, tmp_path):
    with ThreadPoolExecutor(1) as pool:
        project_id, key = pool.submit(asyncio.run, project(live.database_url)).result(timeout=60)
        config = SimulatorConfig(
            api_key=TOKEN, crm_url=live.url + "/megafon_webhook", crm_key=key, step_delay=0.2
        )
        with LiveServer(create_simulator(config)) as pbx:
            pool.submit(asyncio.run, connect(live.database_url, project_id, pbx.url)).result(60)
            page = new_page()
            page.goto("/login")
            page.get_by_label("Email *").fill("ivan@romashka.ru")
            page.get_by_label("Пароль *").fill(builders.PASSWORD)
            page.get_by_role("button", name="Войти").click()
            nav = page.get_by_role("navigation", name="Разделы")
            nav.get_by_role("link", name="Пропущенные").click()
            expect(page.get_by_text("пропущенных нет")).to_be_visible()
            page.wait_for_timeout(500)  # the stream is connecting

            # Two clients call and nobody answers: both wait, the count says so, live
            for phone in (MARIA, "79031234567"):
                scenario = {"scenario": "missed", "phone": phone}
                page.request.post(pbx.url + "/simulator/scenario", data=scenario)
            items = page.locator("#missed-queue li")
            expect(items).to_have_count(2, timeout=10_000)
            count = page.locator("#missed-count")
            expect(count).to_have_text("2")
            maria = items.filter(has_text="+7 926 555-01-01")
            expect(maria).to_contain_text("Попыток: 1")
            expect(maria).to_contain_text("Ждёт 0 мин")
            screenshot(page, "missed-queue", tmp_path)

            # A handset in the row: the PBX rings Иван, then Мария, who answers
            maria.locator("button.call-icon").click()
            expect(items).to_have_count(1, timeout=10_000)
            expect(count).to_have_text("1")
            expect(items.first).to_contain_text("Пётр")

            page.get_by_role("link", name="Закрытые").click()
            closed = page.locator("table tbody tr")
            expect(closed).to_have_count(1)
            expect(closed.first).to_contain_text("Перезвонили")
            expect(closed.first).to_contain_text("Иван Петров")
