"""A newcomer's first day, in a real browser: setup to calling a client."""

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from playwright.sync_api import expect

from core import setup_code
from tests.support.chromium import screenshot
from tests.support.databases import run_core

pytestmark = pytest.mark.browser


def fill_form(page, values):
    for label, value in values.items():
        page.get_by_label(label, exact=True).fill(value)


def test_setup_key_employee_client_search_card_and_roles(new_page, live, tmp_path):
    admin = new_page()
    admin.goto("/")
    expect(admin).to_have_url(re.compile("/setup$"))
    # The code the server printed on its console (here: read where the server keeps it).
    with ThreadPoolExecutor(1) as pool:
        code = pool.submit(run_core, live.database_url, setup_code.current).result(timeout=60)
    fill_form(admin, {"Код установки *": "AAAA-BBBB-CCCC"})
    admin.get_by_role("button", name="Создать проект").click()
    expect(admin.locator("#e-setup_code")).to_contain_text("Неверный код установки")
    fill_form(
        admin,
        {
            "Код установки *": code,
            "Название проекта *": "Ромашка",
            "Ваше имя *": "Анна Админова",
            "Email *": "anna@romashka.ru",
            "Пароль *": "secret123",
            "Пароль ещё раз *": "secret123",
        },
    )
    admin.get_by_role("button", name="Создать проект").click()
    expect(admin).to_have_url(re.compile("/settings$"))

    # Sign out and in again, as on any other day.
    admin.get_by_role("button", name="Выйти").click()
    fill_form(admin, {"Email *": "anna@romashka.ru", "Пароль *": "secret123"})
    admin.get_by_role("button", name="Войти").click()
    admin.get_by_role("link", name="Настройки").click()

    # Generate the API key, then regenerate it: the old one is rejected from that moment.
    key = admin.get_by_label("Ключ доступа к API")
    expect(key).to_have_value("")
    admin.get_by_role("button", name="Сгенерировать").click()
    first = key.input_value()
    assert len(first) >= 32
    screenshot(admin, "settings", tmp_path)
    assert httpx.post(f"{live.url}/api/{first}/callback", data={}).status_code == 422
    admin.get_by_role("link", name="Перегенерировать").click()
    expect(admin.get_by_role("alert")).to_contain_text("перестанет работать")
    admin.get_by_role("button", name="Да, перегенерировать").click()
    second = admin.get_by_label("Ключ доступа к API").input_value()
    assert second != first
    old = httpx.post(f"{live.url}/api/{first}/callback", data={"client_id": "1", "message": "x"})
    assert old.status_code == 401

    # Add a manager who calls through the MegaFon API: the PBX field appears without a reload.
    admin.get_by_role("link", name="Сотрудники").click()
    admin.get_by_role("link", name="Добавить сотрудника").click()
    fill_form(
        admin, {"Имя *": "Иван Петров", "Email *": "ivan@romashka.ru", "Пароль *": "secret123"}
    )
    admin.evaluate("window.__sameDocument = true")
    pbx = admin.get_by_label("Логин, внутренний номер или прямой номер в АТС *")
    expect(pbx).to_have_count(0)
    admin.get_by_label("Звонки по API Megafon").check()
    expect(pbx).to_be_visible()
    assert admin.evaluate("window.__sameDocument") is True
    pbx.fill("ivan@vats123456.megapbx.ru")
    screenshot(admin, "employee", tmp_path)
    admin.get_by_role("button", name="Сохранить").click()
    expect(admin.locator("tbody")).to_contain_text("Звонки по API Megafon")

    # Add a client with a phone as people write it, then find it by another spelling.
    admin.get_by_role("link", name="Клиенты").click()
    admin.get_by_role("link", name="Добавить клиента").first.click()
    fill_form(admin, {"Имя": "Мария Иванова", "Телефон": "8 (916) 123-45-67"})
    admin.get_by_role("button", name="Добавить").click()
    expect(admin.locator("#client-title")).to_have_text("Мария Иванова")
    admin.get_by_role("link", name="← Клиенты").click()
    admin.get_by_label("Поиск клиентов").fill("+79161234567")
    expect(admin.locator("#results tbody tr")).to_have_count(1)
    screenshot(admin, "clients", tmp_path)
    admin.get_by_role("link", name="Мария Иванова").click()
    expect(admin.locator(".facts")).to_contain_text("+7 916 123-45-67")
    # The admin's own call method is "Отключить звонки": no icon.
    expect(admin.locator(".phone-line .call-icon")).to_have_count(0)
    admin.get_by_label("Заметка").fill("Перезвонить в 15:00")
    admin.get_by_role("button", name="Добавить заметку").click()
    expect(admin.locator("#messages li.note")).to_contain_text("Перезвонить в 15:00")
    screenshot(admin, "client-card", tmp_path)

    # The manager sees the blue handset, and gets 403 on settings.
    manager = new_page()
    manager.goto("/login")
    fill_form(manager, {"Email *": "ivan@romashka.ru", "Пароль *": "secret123"})
    manager.get_by_role("button", name="Войти").click()
    manager.get_by_role("link", name="Мария Иванова").click()
    handset = manager.get_by_role("button", name="Позвонить")
    expect(handset).to_be_visible()
    handset.click()
    expect(manager.locator(".call-status")).to_contain_text("не подключена")
    response = manager.goto("/settings")
    assert response.status == 403
    expect(manager.locator("h1")).to_have_text("Нет доступа")
    expect(manager.get_by_role("link", name="Настройки")).to_have_count(0)
