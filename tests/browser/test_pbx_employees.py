"""The employee form's PBX field in Chromium, against our PBX simulator as a second real server:
type part of a name, pick the PBX user (by mouse, then by keyboard), save, and the bare login is
what the CRM keeps."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from core.db import Database
from core.employees import list_employees
from core.telephony import connection
from tests.support import builders
from tests.support.chromium import screenshot
from tests.support.servers import LiveServer
from web.pbx_simulator import SimulatorConfig, create_simulator

pytestmark = pytest.mark.browser
TOKEN = "sim-api-token-5678"


async def team(url, pbx_url):
    async with Database(url) as db:
        admin = await builders.admin(db, email="anna@romashka.ru", name="Анна Админова")
        await builders.manager(db, admin["project_id"], name="Маша", email="masha@romashka.ru")
        await connection.save(db, admin["project_id"], TOKEN, pbx_url, allow_private=True)
        return admin["project_id"]


def megafon_calls(page, field):
    """Choose «Звонки по API Megafon» and wait until htmx has put the PBX field in place and
    bound it (typed before that, the keys would ask for no suggestions)."""
    page.get_by_label("Звонки по API Megafon").check()
    expect(field).to_be_visible()
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


async def saved_logins(url, project_id):
    async with Database(url) as db:
        return {e["name"]: e["pbx_user"] for e in await list_employees(db, project_id)}


def test_pick_a_pbx_user_from_the_list_by_mouse_and_by_keyboard(new_page, live, tmp_path):
    with LiveServer(create_simulator(SimulatorConfig(api_key=TOKEN))) as pbx:
        with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's loop
            project_id = pool.submit(asyncio.run, team(live.database_url, pbx.url)).result(60)
        page = new_page()
        page.goto("/login")
        page.get_by_label("Email *").fill("anna@romashka.ru")
        page.get_by_label("Пароль *").fill(builders.PASSWORD)
        page.get_by_role("button", name="Войти").click()

        page.get_by_role("link", name="Сотрудники").click()
        expect(page.locator(".pbx-status")).to_contain_text("Сотрудников в АТС: 3")
        page.get_by_role("link", name="Маша", exact=True).click()
        field = page.get_by_role("combobox", name="Логин, внутренний номер или прямой номер в АТС")
        megafon_calls(page, field)
        suggested = page.locator("#pbx-user-options").get_by_role("option")
        field.press_sequentially("сидор")
        option = suggested.filter(has_text="Мария Сидорова")
        expect(option).to_contain_text("sidorova · доб. 702")
        expect(field).to_have_attribute("aria-expanded", "true")
        page.evaluate("document.getElementById('f-pbx_user').scrollIntoView({block: 'center'})")
        screenshot(page, "employee-pbx-field", tmp_path)
        option.click()
        expect(field).to_have_value("sidorova")
        expect(suggested).to_have_count(0)
        field.press_sequentially("x")  # no one: the list says so, and a click elsewhere closes it
        expect(page.locator("#pbx-suggestions")).to_contain_text("нет сотрудника «sidorovax»")
        field.press("Backspace")
        expect(suggested).to_have_count(1)
        page.get_by_role("heading", name="Редактирование сотрудника").click()
        expect(suggested).to_have_count(0)
        expect(field).to_have_attribute("aria-expanded", "false")
        page.get_by_role("button", name="Сохранить").click()
        expect(page.get_by_role("row", name="Маша")).to_contain_text("(sidorova)")

        # By keyboard, at phone width: type, ArrowDown into the list, Enter picks.
        page.set_viewport_size({"width": 390, "height": 844})
        page.locator("#main").get_by_role("link", name="Анна Админова", exact=True).click()
        megafon_calls(page, field)
        field.press_sequentially("иван")
        expect(suggested).to_have_count(1)
        field.press("ArrowDown")
        expect(suggested.filter(has_text="Иван Иванов")).to_be_focused()
        page.keyboard.press("Enter")
        expect(field).to_have_value("ivanov")
        expect(field).to_be_focused()
        # «Обновить из АТС» reads the PBX again and keeps what the field holds.
        page.get_by_role("button", name="Обновить из АТС").click()
        expect(page.locator("#pbx-user-field .pbx-status")).to_contain_text("Сотрудников в АТС: 3")
        expect(field).to_have_value("ivanov")
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") == 0
        page.get_by_role("button", name="Сохранить").click()
        expect(page.get_by_role("row", name="Анна Админова")).to_contain_text("(ivanov)")

        # «Сопоставить с АТС» fits a phone too: both are matched already.
        page.get_by_role("link", name="Сопоставить с АТС").click()
        expect(page.get_by_role("row", name="Маша")).to_contain_text("уже сопоставлен")
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") == 0
        screenshot(page, "employees-pbx-match-phone", tmp_path)

        with ThreadPoolExecutor(1) as pool:
            logins = pool.submit(asyncio.run, saved_logins(live.database_url, project_id))
            assert logins.result(60) == {"Анна Админова": "ivanov", "Маша": "sidorova"}
