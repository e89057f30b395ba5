"""An admin connects MegaFon, turns on API calls for herself and calls a client, in Chromium,
against our PBX simulator as a second real server."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from core import projects
from core.db import Database
from tests.support import builders
from tests.support.chromium import screenshot
from tests.support.servers import LiveServer
from web.pbx_simulator import SimulatorConfig, create_simulator

pytestmark = pytest.mark.browser
TOKEN = "sim-api-token-5678"


async def project_with_client(url):
    async with Database(url) as db:
        admin = await builders.admin(db, email="anna@romashka.ru", name="Анна Админова")
        key = await projects.generate_api_key(db, admin["project_id"])
        await builders.client(db, admin["project_id"], name="Мария Иванова")
        return key


def test_connect_megafon_then_call_a_client_from_the_card(new_page, live, tmp_path):
    # Playwright's sync API holds this thread's event loop: set up data from another thread.
    with ThreadPoolExecutor(1) as pool:
        key = pool.submit(asyncio.run, project_with_client(live.database_url)).result(timeout=60)
    config = SimulatorConfig(
        api_key=TOKEN, crm_url=live.url + "/megafon_webhook", crm_key=key, step_delay=0.2
    )
    with LiveServer(create_simulator(config)) as pbx:
        page = new_page()
        page.goto("/login")
        page.get_by_label("Email *").fill("anna@romashka.ru")
        page.get_by_label("Пароль *").fill(builders.PASSWORD)
        page.get_by_role("button", name="Войти").click()

        page.get_by_role("link", name="Телефония").click()
        page.get_by_role("link", name="Подключить").click()
        page.get_by_label("API token").fill(TOKEN)
        page.get_by_label("Megafon domain").fill(pbx.url + "/crmapi/v1")
        page.get_by_role("button", name="Сохранить настройки").click()
        expect(page.get_by_text("Сервис Мегафон подключен")).to_be_visible()
        expect(page.get_by_label("Адрес вашей CRM")).to_have_value(live.url + "/megafon_webhook")
        expect(page.get_by_label("Ключ для авторизации в вашей CRM")).to_have_value(key)
        page.get_by_role("button", name="Проверить подключение").click()
        expect(page.locator("#pbx-check")).to_contain_text("Подключение работает")
        screenshot(page, "telephony-megafon", tmp_path)

        page.get_by_role("link", name="Сотрудники").click()
        page.get_by_role("link", name="Анна Админова", exact=True).click()
        page.get_by_label("Звонки по API Megafon").check()
        page.get_by_label("Логин, внутренний номер или прямой номер в АТС").fill("admin")
        page.get_by_role("button", name="Сохранить").click()

        page.get_by_role("link", name="Клиенты").click()
        page.get_by_role("link", name="Мария Иванова").click()
        handset = page.locator("button.call-icon")
        handset.dblclick()  # a double click starts one call
        status = page.locator(".call-status")
        expect(status).to_contain_text("АТС звонит вам, затем клиенту")
        # Followed live, as the PBX reports it (its fallback poll comes only every 10 s).
        expect(status).to_contain_text("Звонок завершён: Успешный", timeout=6_000)
        page.reload()
        expect(page.locator("#messages li.system")).to_contain_text(
            [
                "megafon_call_event OUTGOING",
                "megafon_call_event ACCEPTED",
                "megafon_call_event COMPLETED",
                "megafon_call_status Success",
            ]
        )
        screenshot(page, "click-to-call", tmp_path)
        calls = page.request.get(pbx.url + "/simulator/calls").json()
        assert [(c["user"], c["phone"]) for c in calls] == [("admin", "79161234567")]
