"""«Журнал действий» over real HTTP: sign-ins (and failures), the key, the telephony and the
employees appear with who, what and the client's address; managers may not read it; an
admin learns nothing about emails in other projects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from core import projects
from core.db import Database
from tests.support import builders
from tests.support.databases import run_core
from tests.support.pages import page
from tests.support.servers import LiveBrowser, LiveServer
from web.app import create_app
from web.config import Settings

PROXY = "203.0.113.77"  # as a reverse proxy on 127.0.0.1 reports the client


class Crm:
    """The app on a real port, and browsers that reach it through a proxy on 127.0.0.1."""

    def __init__(self, server: LiveServer, database_url: str) -> None:
        self.server, self.database_url = server, database_url
        self.browsers: list[LiveBrowser] = []

    def browser(self, address: str = PROXY) -> LiveBrowser:
        client = LiveBrowser(
            base_url=self.server.url,
            headers={"X-Forwarded-For": address},
            follow_redirects=True,
            timeout=15,
        )
        self.browsers.append(client)
        return client


@pytest.fixture
def crm(database_url: str) -> Iterator[Crm]:
    settings = Settings(
        database_url=database_url,
        secret_key="audit",
        cheap_passwords=True,
        pbx_allow_private=True,
    )
    with LiveServer(create_app(settings)) as server:
        app = Crm(server, database_url)
        yield app
        for client in app.browsers:
            client.close()


def journal_rows(admin: LiveBrowser, query: str = "") -> list[list[str]]:
    response = admin.get("/audit" + query)
    assert response.status_code == 200
    return [
        [" ".join(td.get_text(" ").split()) for td in row.select("td")]
        for row in page(response).select("table.audit tbody tr")
    ]


async def romashka(db: Database) -> dict[str, Any]:
    anna = await builders.admin(db, email="anna@romashka.ru")
    ivan = await builders.manager(
        db, anna["project_id"], name="Иван Петров", email="ivan@romashka.ru"
    )
    return {"anna": anna, "ivan": ivan}


def test_what_an_admin_does_is_journaled_with_the_address(crm):
    people = run_core(crm.database_url, romashka)
    stranger = crm.browser("198.51.100.23")
    assert (
        stranger.submit(
            "/login", {"email": "ANNA@romashka.ru", "password": "wrong-one"}
        ).status_code
        == 401
    )
    assert (
        stranger.submit("/login", {"email": "nobody@romashka.ru", "password": "x"}).status_code
        == 401
    )
    admin = crm.browser()
    admin.login("anna@romashka.ru")
    admin.submit("/settings/api-key")
    admin.submit("/settings/api-key/regenerate")
    key = run_core(crm.database_url, projects.get_project, people["anna"]["project_id"])["api_key"]
    admin.submit(
        "/telephony/megafon", {"token": "pbx-secret-token-1", "domain": "vats1.megapbx.ru"}
    )
    admin.submit("/telephony/megafon?edit", {"token": "", "domain": "vats2.megapbx.ru"})
    ivan = people["ivan"]
    edited = admin.submit(
        f"/employees/{ivan['id']}",
        {
            "name": "Иван Петров",
            "email": "ivan@romashka.ru",
            "role": "admin",
            "password": "brand-new-secret-7",
            "call_method": "megafon_api",
            "pbx_user": "701",
        },
    )
    assert edited.url.path == "/employees"
    admin.submit(f"/employees/{ivan['id']}/deactivate")
    admin.submit(f"/employees/{ivan['id']}/activate")

    rows = journal_rows(admin)
    said = [row[2] for row in reversed(rows)]
    assert said == [
        "Неудачная попытка входа",
        "Вход в систему",
        "Создан ключ доступа к API",
        "Ключ доступа к API перегенерирован: старый больше не действует",
        "Подключена телефония МегаФон: https://vats1.megapbx.ru",
        "Изменены настройки телефонии: адрес АТС https://vats1.megapbx.ru → https://vats2.megapbx.ru",
        "Изменена роль сотрудника Иван Петров: Менеджер → Администратор",
        "Изменён способ звонков сотрудника Иван Петров: "
        "Отключить звонки → Звонки по API Megafon (701)",
        "Сброшен пароль сотрудника Иван Петров",
        "Сотрудник Иван Петров отключён",
        "Сотрудник Иван Петров снова активен",
    ]
    failed = rows[-1]
    assert failed[1] == "email ANNA@romashka.ru" and failed[3] == "198.51.100.23"
    assert {(row[1], row[3]) for row in rows[:-1]} == {("Анна Админова", PROXY)}
    html = admin.get("/audit").text
    for secret in (key, "pbx-secret-token-1", "brand-new-secret-7", "wrong-one", "$argon2"):
        assert secret not in html
    # Filters live in the URL.
    assert [r[2] for r in journal_rows(admin, "?action=sign_in_failed")] == [
        "Неудачная попытка входа"
    ]
    about_ivan = journal_rows(admin, f"?employee={ivan['id']}")
    assert len(about_ivan) == 5 and all("Иван Петров" in r[2] for r in about_ivan)


def test_the_journal_pages_on_and_is_for_admins_only(crm):
    people = run_core(crm.database_url, romashka)
    admin = crm.browser()
    for _ in range(55):
        admin.login("anna@romashka.ru")
    first = page(admin.get("/audit"))
    assert len(first.select("table.audit tbody tr")) == 50
    more = first.select_one(".pager a")
    assert more.get_text(strip=True) == "Дальше →"
    rest = page(admin.get(more["href"]))
    assert len(rest.select("table.audit tbody tr")) == 5
    assert not [a for a in rest.select(".pager a") if "Дальше" in a.get_text()]

    manager = crm.browser()
    manager.login(people["ivan"]["email"])
    denied = manager.get("/audit")
    assert denied.status_code == 403


def test_an_admin_learns_nothing_about_an_email_in_another_project(crm):
    async def two_projects(db: Database) -> dict[str, Any]:
        anna = await builders.admin(db, project="Ромашка", email="anna@romashka.ru")
        boss = await builders.admin(db, project="Василёк", email="boss@vasilek.ru")
        return {"anna": anna, "boss": boss}

    people = run_core(crm.database_url, two_projects)
    boss = crm.browser()
    boss.login("boss@vasilek.ru")
    new = {
        "name": "Анна из Василька",
        "email": "Anna@Romashka.ru",
        "role": "manager",
        "password": "vasilek-own-pass-3",
        "call_method": "disabled",
    }
    created = boss.submit("/employees/new", new)
    assert created.url.path == "/employees"  # no «уже есть», no hint at another project
    again = boss.submit("/employees/new", {**new, "name": "Ещё одна Анна"})
    assert again.status_code == 422
    assert page(again).select_one("#e-email").get_text() == "Сотрудник с таким email уже есть."

    # Each signs in with their own password, into their own project.
    in_romashka = crm.browser("192.0.2.1")
    in_romashka.login("anna@romashka.ru")
    colleagues = page(in_romashka.get("/employees")).select_one("tbody").get_text()
    assert "Анна Админова" in colleagues and "Анна из Василька" not in colleagues
    in_vasilek = crm.browser("192.0.2.2")
    in_vasilek.login("anna@romashka.ru", "vasilek-own-pass-3")
    assert in_vasilek.get("/employees").status_code == 403  # here she is a manager
    # Ромашка's journal shows its own admin signing in, and nothing of Василёк.
    said = journal_rows(in_romashka)
    assert [(r[1], r[2], r[3]) for r in said] == [("Анна Админова", "Вход в систему", "192.0.2.1")]
    assert people["anna"]["project_id"] != people["boss"]["project_id"]
