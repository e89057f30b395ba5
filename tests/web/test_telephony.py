"""«Телефония» → «Мегафон»: «Изменить» changes a connected PBX's token or domain in place;
«Разрешённые направления» and the call limits; the count of webhooks with a wrong key."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from core import audit, projects
from core.tables import pbx_connections
from core.telephony import call_rules, connection, inbox
from tests.support import builders
from tests.support.databases import run_core
from tests.support.pages import Browser, page, text_of
from tests.support.servers import LiveBrowser, LiveServer
from tests.support.simulator import wait_for
from web.app import create_app

TOKEN = "pbx-secret-token-1234"


@pytest.fixture
def connected(browser: Any) -> dict[str, Any]:
    """An admin signed in, MegaFon connected; the PBX once answered on its REST API."""
    admin = browser.run(builders.admin, email="anna@romashka.ru")
    browser.login("anna@romashka.ru")
    browser.run(connection.save, admin["project_id"], TOKEN, "vats123456.megapbx.ru")

    async def answered_on_rest(db: Any) -> None:
        await db.execute(pbx_connections.update().values(api="rest"))

    browser.run(answered_on_rest)
    return dict(browser.run(connection.get, admin["project_id"]))


def stored(browser: Any, project_id: int) -> dict[str, Any]:
    return dict(browser.run(connection.get, project_id))


def test_the_edit_form_shows_the_domain_and_keeps_the_token_unless_one_is_typed(browser, connected):
    response = browser.get("/telephony/megafon?edit=1")
    assert response.status_code == 200
    html = page(response)
    assert html.select_one("#f-domain")["value"] == "https://vats123456.megapbx.ru"
    token = html.select_one("#f-token")
    assert token["value"] == "" and not token.has_attr("required")
    hint = html.select_one("#h-token").get_text()
    assert "••••••••1234" in hint and "Оставьте поле пустым, чтобы не менять" in hint
    assert TOKEN not in response.text


def test_changing_only_the_domain_keeps_the_token_and_the_connection(browser, connected):
    response = browser.submit("/telephony/megafon", {"token": "", "domain": "vats777.megapbx.ru"})
    assert response.status_code == 200 and response.url.path == "/telephony/megafon"
    assert "Сервис Мегафон подключен" in text_of(response)
    now = stored(browser, connected["project_id"])
    assert now["base_url"] == "https://vats777.megapbx.ru"
    assert now["api_token"] == TOKEN
    assert now["connected_at"] == connected["connected_at"]
    assert now["api"] == ""  # another PBX: which API it speaks is found out again


def test_changing_only_the_token_keeps_the_domain_and_the_connection(browser, connected):
    response = browser.submit(
        "/telephony/megafon", {"token": " new-token-5678 ", "domain": "vats123456.megapbx.ru"}
    )
    assert "Сервис Мегафон подключен" in text_of(response)
    assert "••••••••5678" in text_of(response)
    now = stored(browser, connected["project_id"])
    assert now["api_token"] == "new-token-5678"
    assert now["base_url"] == connected["base_url"]
    assert now["connected_at"] == connected["connected_at"]
    assert now["api"] == "rest"  # the same PBX answers the same way


def test_a_wrong_domain_is_explained_and_nothing_is_lost(browser, connected):
    response = browser.submit("/telephony/megafon", {"token": "new-token-5678", "domain": "vats"})
    assert response.status_code == 422
    html = page(response)
    assert "Не похоже на адрес АТС" in html.select_one("#e-domain").get_text()
    assert html.select_one("#f-domain")["value"] == "vats"
    assert html.select_one("#f-token")["value"] == ""
    assert "••••••••1234" in html.select_one("#h-token").get_text()
    assert stored(browser, connected["project_id"]) == connected


def test_connecting_with_a_wrong_domain_gets_the_same_message(browser):
    browser.run(builders.admin, email="anna@romashka.ru")
    browser.login("anna@romashka.ru")
    response = browser.submit("/telephony/megafon", {"token": TOKEN, "domain": "vats"})
    assert response.status_code == 422
    assert "Не похоже на адрес АТС" in page(response).select_one("#e-domain").get_text()


def test_the_crm_address_for_the_pbx_follows_public_url(settings):
    behind_proxy = replace(settings, public_url="https://crm.example.ru")
    with Browser(create_app(behind_proxy), follow_redirects=True) as browser:
        browser.run(builders.admin, email="anna@romashka.ru")
        browser.login("anna@romashka.ru")
        html = page(browser.get("/telephony/megafon"))
    assert html.select_one("#crm-address")["value"] == "https://crm.example.ru/megafon_webhook"


def test_the_admin_allows_directions_and_sets_the_call_limits(browser, connected):
    project_id = connected["project_id"]
    form = page(browser.get("/telephony/megafon"))
    rules = form.select_one("form[action='/telephony/megafon/rules']")
    assert rules.select_one("input[name=international]").get("checked") is None
    assert rules.select_one("input[name=premium]").get("checked") is None
    assert rules.select_one("#f-per_minute")["value"] == "30"
    assert rules.select_one("#f-per_hour")["value"] == "300"

    saved = browser.submit(
        "/telephony/megafon/rules",
        {"international": "on", "per_minute": "10", "per_hour": "100"},
    )
    assert saved.status_code == 200 and "Сохранено." in text_of(saved)
    assert browser.run(call_rules.get, project_id) == {
        "international": True,
        "premium": False,
        "per_minute": 10,
        "per_hour": 100,
    }
    again = page(saved).select_one("form[action='/telephony/megafon/rules']")
    assert again.select_one("input[name=international]").get("checked") is not None

    refused = browser.submit(
        "/telephony/megafon/rules", {"premium": "on", "per_minute": "0", "per_hour": "100"}
    )
    assert refused.status_code == 422
    assert "Целое число от 1 до 1000" in text_of(refused)
    kept = page(refused).select_one("form[action='/telephony/megafon/rules']")
    assert kept.select_one("input[name=premium]").get("checked") is not None
    assert browser.run(call_rules.get, project_id)["premium"] is False

    # «Журнал действий» says who allowed what; saving the same rules again adds nothing.
    browser.submit(
        "/telephony/megafon/rules",
        {"international": "on", "per_minute": "10", "per_hour": "100"},
    )
    entries, _ = browser.run(audit.journal, project_id, action="call_rules_changed")
    assert len(entries) == 1 and entries[0]["details"]["old"] == call_rules.DEFAULTS
    journal = text_of(browser.get("/audit"))
    assert (
        "Разрешённые направления: международные — да, платные — нет; через API и ботов "
        "не больше 10 звонков в минуту и 100 в час"
    ) in journal


def test_webhooks_with_a_wrong_token_are_counted_on_telephony_and_not_stored(settings):
    with LiveServer(create_app(settings)) as crm:

        async def anna_with_a_key(db: Any) -> int:
            admin = await builders.admin(db, email="anna@romashka.ru")
            await projects.generate_api_key(db, admin["project_id"])
            return int(admin["project_id"])

        project_id = run_core(settings.database_url, anna_with_a_key)
        admin = LiveBrowser(base_url=crm.url, follow_redirects=True, timeout=15)
        admin.login("anna@romashka.ru")
        assert "неверным ключом" not in text_of(admin.get("/telephony"))
        for _ in range(100):
            answer = httpx.post(
                crm.url + "/megafon_webhook",
                data={"cmd": "event", "type": "INCOMING", "callid": "x", "crm_token": "old-key"},
            )
            assert answer.status_code == 401

        def warning() -> str:
            return text_of(admin.get("/telephony"))

        expected = (
            "Запросов с неверным ключом за сутки: 100. Возможно, ключ в кабинете АТС устарел."
        )
        assert wait_for(lambda: expected in warning(), timeout=10)  # flushed every 2 s
        assert expected in text_of(admin.get("/telephony/megafon"))
        journal, _ = run_core(settings.database_url, inbox.journal, project_id)
        assert journal == []
        admin.close()
