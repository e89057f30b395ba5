"""Calls from the CRM, end to end: the app and our PBX simulator as two real servers over HTTP.

The admin connects MegaFon in «Телефония», a manager clicks the handset, bots and the API
call with `megafon_call`; the PBX's webhooks come back and land in the client's dialog.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import sqlalchemy as sa

from core import dialogs, projects, reactions, variables
from core.db import Database
from core.tables import bot_jobs, pbx_connections
from tests.support import builders
from tests.support.crm_and_pbx import TOKEN, eventually
from tests.support.crm_and_pbx import pair as pair  # the fixture: the CRM and the PBX
from tests.support.databases import run_core
from tests.support.pages import page, text_of
from tests.support.servers import LiveServer
from web.app import create_app
from web.config import Settings
from web.pbx_simulator import SimulatorConfig, create_simulator


def test_admin_connects_megafon_in_telephony_and_checks_the_connection(pair):
    admin = pair.browser("anna@romashka.ru")
    tile = page(admin.get("/telephony"))
    assert tile.select_one("a.button").get_text(strip=True) == "Подключить"
    bad = admin.submit("/telephony/megafon", {"token": "", "domain": "http://vats.example.ru"})
    assert bad.status_code == 422
    assert "https://" in text_of(bad) and "API token" in text_of(bad)

    saved = admin.submit(
        "/telephony/megafon", {"token": TOKEN, "domain": pair.sim.url + "/crmapi/v1/"}
    )
    html = page(saved)
    assert "Сервис Мегафон подключен" in text_of(saved)
    assert html.select_one("#crm-address")["value"] == pair.crm.url + "/megafon_webhook"
    assert html.select_one("#crm-key")["value"] == pair.key
    assert TOKEN not in saved.text and TOKEN[-4:] in saved.text  # never shown back in full

    check = admin.htmx("POST", "/telephony/megafon/check")
    assert "Подключение работает" in text_of(check) and "ivanov" in text_of(check)

    pair.connect(token="wrong-token")
    refused = admin.htmx("POST", "/telephony/megafon/check")
    assert "АТС отклонила API token" in text_of(refused)

    admin.submit("/telephony/megafon/disconnect")
    assert "Подключить" in text_of(admin.get("/telephony"))


def test_the_handset_rings_the_manager_then_the_client_and_the_call_lands_in_the_dialog(pair):
    pair.connect()
    manager = pair.browser("ivan@romashka.ru")
    client_id = pair.ids["client"]
    started = manager.htmx("POST", f"/clients/{client_id}/call")
    assert started.status_code == 200
    assert "АТС звонит вам, затем клиенту" in text_of(started)
    [call] = pair.pbx("GET", "/simulator/calls")
    assert (call["user"], call["phone"], call["api"]) == ("ivanov", "79265550101", "rest")

    expected = [
        "megafon_call_event OUTGOING",
        "megafon_call_event ACCEPTED",
        "megafon_call_event COMPLETED",
        "megafon_call_status Success",
    ]
    assert eventually(lambda: pair.dialog(client_id) == expected)
    progress = page(started).select_one(".call-status")["hx-get"]
    ended = page(manager.get(progress)).select_one(".call-status")
    assert "Звонок завершён: Успешный" in ended.get_text()
    assert "tone-success" in ended["class"]
    card = page(manager.get(f"/clients/{client_id}"))
    assert card.select_one("audio")["src"].startswith(pair.sim.url + "/records/")


def test_a_call_has_the_colour_of_how_it_ended_in_the_status_and_in_the_card(pair):
    pair.connect()
    manager = pair.browser("ivan@romashka.ru")
    client_id = pair.ids["client"]
    pair.pbx("POST", "/simulator/behaviour", json={"outcome": "Busy"})
    started = manager.htmx("POST", f"/clients/{client_id}/call")
    assert "tone-live" in page(started).select_one(".call-status")["class"]
    progress = page(started).select_one(".call-status")["hx-get"]
    ended = eventually(
        lambda: (
            (status := page(manager.get(progress)).select_one(".call-status"))
            and "завершён" in status.get_text()
            and status
        )
    )
    assert "Звонок завершён: Занято" in ended.get_text() and "tone-failed" in ended["class"]

    pair.pbx("POST", "/simulator/scenario", json={"scenario": "missed", "phone": "79265550101"})
    pair.pbx("POST", "/simulator/scenario", json={"scenario": "answered", "phone": "79265550101"})

    def tones() -> dict[str, list[str]]:
        card = page(manager.get(f"/clients/{client_id}"))
        return {
            badge.get_text(strip=True): [c for c in badge["class"] if c.startswith("tone-")]
            for badge in card.select(".call-item .call-head .badge")
        }

    ended_alike = {
        "Занято": ["tone-failed"],
        "Пропущенный": ["tone-missed"],
        "Успешный": ["tone-success"],
    }
    assert eventually(lambda: tones() == ended_alike), tones()


def test_a_double_click_never_starts_two_calls(pair):
    pair.connect()
    manager = pair.browser("ivan@romashka.ru")
    manager.csrf_token()
    answers = []

    def click() -> None:
        answers.append(manager.htmx("POST", f"/clients/{pair.ids['client']}/call"))

    clicks = [threading.Thread(target=click) for _ in range(2)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join(10)
    assert [a.status_code for a in answers] == [200, 200]
    assert len(pair.pbx("GET", "/simulator/calls")) == 1
    assert any("второй не начат" in text_of(a) for a in answers)


def test_pbx_failures_are_shown_in_plain_words(pair):
    manager = pair.browser("ivan@romashka.ru")
    url = f"/clients/{pair.ids['client']}/call"

    def click() -> tuple[int, str]:
        response = manager.htmx("POST", url)
        assert "Traceback" not in response.text
        return response.status_code, text_of(response)

    status, text = click()
    assert status == 409 and "не подключена" in text

    pair.connect(domain="http://127.0.0.1:9")  # nothing listens there
    status, text = click()
    assert status == 502 and "недоступна" in text and "не удалось соединиться" in text

    pair.connect(token="wrong-token")
    assert "АТС отклонила API token" in click()[1]

    pair.connect()
    pair.pbx("POST", "/simulator/behaviour", json={"delay": 2})
    status, text = click()
    assert status == 502 and "нет ответа за 1 с" in text

    pair.pbx("POST", "/simulator/behaviour", json={"delay": 0, "fail_status": 500})
    assert "АТС ответила ошибкой (HTTP 500" in click()[1]

    pair.pbx("POST", "/simulator/behaviour", json={"fail_status": 0})

    async def unknown_login(db: Database) -> None:
        from core.tables import users

        await db.execute(
            users.update().where(users.c.id == pair.ids["manager"]).values(pbx_user="nobody")
        )

    run_core(pair.url, unknown_login)
    status, text = click()
    assert status == 502 and "User not found" not in text
    assert (
        "Сотрудник «nobody» не найден в АТС: проверьте поле «Логин, внутренний номер или прямой "
        "номер в АТС» в карточке сотрудника" in text
    )
    assert pair.pbx("GET", "/simulator/calls") == []


def test_a_pbx_with_only_the_legacy_api_is_called_there_and_remembered(database_url):
    settings = Settings(
        database_url=database_url, secret_key="e2e", cheap_passwords=True, pbx_allow_private=True
    )
    with LiveServer(create_app(settings)) as crm:

        async def setup(db: Database) -> tuple[int, str]:
            admin = await builders.admin(db, email="anna@romashka.ru")
            return admin["project_id"], await projects.generate_api_key(db, admin["project_id"])

        project, key = run_core(database_url, setup)
        config = SimulatorConfig(
            api_key=TOKEN,
            crm_url=crm.url + "/megafon_webhook",
            crm_key=key,
            step_delay=0.05,
            rest=False,
        )
        with LiveServer(create_simulator(config)) as sim:
            api = f"{crm.url}/api/{key}/megafon_call"

            async def connect(db: Database) -> None:
                from core.telephony import connection

                await connection.save(db, project, TOKEN, sim.url, allow_private=True)

            run_core(database_url, connect)
            first = httpx.post(api, data={"client_phone": "89265550101", "user": "ivanov"})
            second = httpx.post(api, json={"client_phone": "79265550102", "user": "sidorova"})
            assert first.json()["status"] == second.json()["status"] == "success"
            calls = httpx.get(sim.url + "/simulator/calls").json()
            assert [(c["api"], c["phone"]) for c in calls] == [
                ("legacy", "79265550101"),
                ("legacy", "79265550102"),
            ]

            async def remembered(db: Database) -> str:
                return await db.fetch_val(sa.select(pbx_connections.c.api))

            assert run_core(database_url, remembered) == "legacy"


def test_the_megafon_call_api_answers_in_json(pair):
    api = f"{pair.crm.url}/api/{pair.key}/megafon_call"
    assert httpx.post(api, data={"client_phone": "79265550101", "user": "ivanov"}).json() == {
        "error": "Телефония МегаФон не подключена к проекту. "
        "Администратор подключает её в разделе «Телефония»."
    }
    pair.connect()
    done = httpx.post(api, json={"client_phone": "+7 (926) 555-01-01", "user": "ivanov"})
    assert done.status_code == 200
    assert done.json()["callid"] == pair.pbx("GET", "/simulator/calls")[0]["callid"]
    # The call lands in the dialog of the client with that number.
    assert eventually(lambda: "megafon_call_status Success" in pair.dialog(pair.ids["client"]))
    invalid = httpx.post(api, data={"client_phone": "12", "user": ""})
    assert invalid.status_code == 422
    assert "логин" in invalid.json()["error"] and "номер телефона" in invalid.json()["error"]
    assert httpx.post(f"{pair.crm.url}/api/wrong/megafon_call", data={}).status_code == 401


def test_a_missed_call_makes_the_bot_call_the_client_back(pair):
    pair.connect()
    run_core(
        pair.url,
        reactions.save_reaction,
        pair.ids["project"],
        "megafon_call_status Missed; megafon_call_status Cancel",
        "call_back_id = megafon_call('#{client_phone}', 'ivanov')",
    )
    pair.pbx("POST", "/simulator/scenario", json={"scenario": "missed", "phone": "79265550101"})
    [callback] = eventually(lambda: pair.pbx("GET", "/simulator/calls"))
    assert (callback["user"], callback["phone"]) == ("ivanov", "79265550101")

    def saved_id() -> Any:
        found = run_core(pair.url, variables.list_variables, pair.ids["client"])
        return {v["name"]: v["value"] for v in found}.get("call_back_id")

    assert eventually(saved_id) == callback["callid"]
    # The answered callback closes the client's item in «Пропущенные»
    assert eventually(
        lambda: (
            pair.dialog(pair.ids["client"])[-2:]
            == ["megafon_call_status Success", "megafon_missed_closed outbound"]
        )
    )


def test_a_failing_megafon_call_writes_its_error_into_the_dialog(pair):
    pair.connect()
    run_core(
        pair.url,
        reactions.save_reaction,
        pair.ids["project"],
        "перезвоните мне",
        "megafon_call('#{client_phone}', 'nobody')",
    )
    run_core(
        pair.url,
        dialogs.add_message,
        pair.ids["project"],
        pair.ids["client"],
        dialogs.MessageKind.INCOMING,
        "Перезвоните мне",
    )
    last = eventually(lambda: pair.dialog(pair.ids["client"])[-1].startswith("megafon_call:"))
    assert last
    assert "Сотрудник «nobody» не найден в АТС" in pair.dialog(pair.ids["client"])[-1]

    async def job(db: Database) -> Any:
        return await db.fetch_one(sa.select(bot_jobs.c.state, bot_jobs.c.result))

    assert run_core(pair.url, job)["state"] == "failed"


def test_the_api_and_bots_call_only_the_allowed_directions(pair):
    pair.connect()
    api = f"{pair.crm.url}/api/{pair.key}/megafon_call"
    abroad = httpx.post(api, data={"client_phone": "+44 7911 123456", "user": "ivanov"})
    assert abroad.status_code == 403
    assert abroad.json() == {
        "error": "Звонки на международные номера запрещены в настройках телефонии."
    }
    premium = httpx.post(api, json={"client_phone": "8 809 123-45-67", "user": "ivanov"})
    assert premium.status_code == 403 and "8-809" in premium.json()["error"]

    run_core(
        pair.url,
        reactions.save_reaction,
        pair.ids["project"],
        "позвоните в Лондон",
        "megafon_call('+447911123456', 'ivanov')",
    )
    run_core(
        pair.url,
        dialogs.add_message,
        pair.ids["project"],
        pair.ids["client"],
        dialogs.MessageKind.INCOMING,
        "Позвоните в Лондон",
    )
    refused = "Звонки на международные номера запрещены в настройках телефонии."
    assert eventually(lambda: pair.dialog(pair.ids["client"])[-1] == f"megafon_call: {refused}")
    admin = pair.browser("anna@romashka.ru")
    jobs = page(admin.get("/bot")).find(id="jobs-title").find_parent("section")
    [last] = [" ".join(row.get_text(" ").split()) for row in jobs.select("tbody tr")]
    assert f"ошибка {refused}" in last  # «Последние срабатывания»
    assert pair.pbx("GET", "/simulator/calls") == []

    admin.submit(
        "/telephony/megafon/rules", {"international": "on", "per_minute": "30", "per_hour": "300"}
    )
    allowed = httpx.post(api, data={"client_phone": "+44 7911 123456", "user": "ivanov"})
    assert allowed.status_code == 200
    assert pair.pbx("GET", "/simulator/calls")[0]["phone"] == "447911123456"


def test_calls_through_the_api_over_the_projects_limit_get_429(pair):
    pair.connect()
    admin = pair.browser("anna@romashka.ru")
    admin.submit("/telephony/megafon/rules", {"per_minute": "2", "per_hour": "300"})
    api = f"{pair.crm.url}/api/{pair.key}/megafon_call"
    answers = [
        httpx.post(api, data={"client_phone": f"+7 916 123-00-0{n}", "user": "ivanov"})
        for n in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert 1 <= int(answers[2].headers["Retry-After"]) <= 60
    assert answers[2].json()["error"].startswith("Не больше 2 звонков в минуту через API")
    assert len(pair.pbx("GET", "/simulator/calls")) == 2
