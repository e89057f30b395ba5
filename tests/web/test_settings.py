"""Настройки: the API access key and the connected messengers, for admins only."""

from core import projects
from tests.support import builders
from tests.support.pages import page, text_of


def signed_in_admin(browser):
    admin = browser.run(builders.admin, email="anna@romashka.ru")
    browser.login("anna@romashka.ru")
    return admin


def key_input(response):
    label = page(response).find("label", string="Ключ доступа к API")
    assert label is not None
    return page(response).select_one("#" + label["for"])


def test_generate_then_regenerate_with_confirmation_and_the_old_key_is_rejected(browser):
    signed_in_admin(browser)
    empty = browser.get("/settings")
    assert key_input(empty)["value"] == "" and "Сгенерировать" in text_of(empty)

    generated = browser.submit("/settings/api-key")
    first = key_input(generated)["value"]
    assert len(first) >= 32 and key_input(generated).has_attr("readonly")
    assert page(generated).select_one("[data-copy='#api-key-value']") is not None
    assert browser.post(f"/api/{first}/callback", data={}).status_code != 401

    confirm = browser.get("/settings/api-key/regenerate")
    assert "перестанет работать" in text_of(confirm)
    assert key_input(browser.get("/settings"))["value"] == first  # looking changes nothing

    regenerated = browser.submit("/settings/api-key/regenerate")
    second = key_input(regenerated)["value"]
    assert second != first
    rejected = browser.post(f"/api/{first}/callback", data={"client_id": "1", "message": "x"})
    assert rejected.status_code == 401 and rejected.json() == {"error": "Invalid token"}


def test_a_second_generate_does_not_silently_replace_the_key(browser):
    signed_in_admin(browser)
    first = key_input(browser.submit("/settings/api-key"))["value"]
    assert key_input(browser.submit("/settings/api-key"))["value"] == first


def test_messengers_are_saved(browser):
    admin = signed_in_admin(browser)
    response = browser.submit("/settings/messengers", {"messengers": ["whatsapp", "vk"]})
    checked = [i["value"] for i in page(response).select("input[name=messengers][checked]")]
    assert checked == ["whatsapp", "vk"]
    assert projects.connected_messengers(
        browser.run(projects.get_project, admin["project_id"])
    ) == ["whatsapp", "vk"]
    assert browser.submit("/settings/messengers", {"messengers": ["icq"]}).status_code == 422


def test_managers_get_403_on_admin_pages(browser):
    admin = browser.run(builders.admin)
    browser.run(builders.manager, admin["project_id"], email="ivan@romashka.ru")
    browser.login("ivan@romashka.ru")
    for url in ["/settings", "/settings/api-key/regenerate", "/employees", "/employees/new"]:
        response = browser.get(url)
        assert response.status_code == 403, url
        assert "только администраторам" in text_of(response)
    assert browser.submit("/settings/api-key").status_code == 403
    nav = [a.get_text() for a in page(browser.get("/clients")).select("header nav a")]
    assert nav == ["Клиенты", "Звонки", "Пропущенные", "Аналитика"]
