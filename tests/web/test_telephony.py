"""«Телефония» → «Мегафон»: «Изменить» changes a connected PBX's token or domain in place."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from core.tables import pbx_connections
from core.telephony import connection
from tests.support import builders
from tests.support.pages import Browser, page, text_of
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
