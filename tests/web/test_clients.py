"""Клиенты: list and search, the add form, the card with variables, dialog and phone icon."""

import pytest

from core import dialogs
from tests.support import builders
from tests.support.pages import page, text_of


@pytest.fixture
def admin(browser):
    admin = browser.run(builders.admin, email="anna@romashka.ru")
    browser.login("anna@romashka.ru")
    return admin


def test_add_a_client_with_a_phone_in_any_format_and_find_it(browser, admin):
    form = page(browser.get("/clients/new"))
    assert all(
        form.find("label", attrs={"for": i["id"]})
        for i in form.select("form input:not([type=hidden]), form select")
    )
    response = browser.submit(
        "/clients/new",
        {
            "name": "Мария Иванова",
            "phone": "8 (916) 123-45-67",
            "client_type": "telephony",
            "responsible_id": str(admin["id"]),
        },
    )
    assert response.url.path.startswith("/clients/")
    assert "+7 916 123-45-67" in text_of(response)
    for query in ["+79161234567", "8 916 123 45 67", "мария"]:
        found = browser.get("/clients", params={"q": query})
        assert [a.get_text() for a in page(found).select("#results tbody a")] == [
            "Мария Иванова"
        ], query


def test_a_bad_phone_gets_a_clear_message_and_loses_nothing(browser, admin):
    response = browser.submit(
        "/clients/new", {"name": "Мария", "phone": "12-34", "client_type": "telephony"}
    )
    assert response.status_code == 422
    html = page(response)
    assert "код" in html.select_one("#e-phone").get_text()
    assert html.select_one("#f-name")["value"] == "Мария"
    assert html.select_one("#f-phone")["value"] == "12-34"


def test_search_as_you_type_returns_only_the_results_fragment(browser, admin):
    browser.run(builders.client, admin["project_id"], name="Пётр Сидоров")
    fragment = browser.htmx("GET", "/clients?q=сидор")
    assert fragment.text.lstrip().startswith('<section id="results"')
    assert "Пётр Сидоров" in fragment.text
    nothing = browser.htmx("GET", "/clients?q=zzz")
    assert "Никого не нашли" in nothing.text


def test_the_list_pages_through_many_clients(browser, admin):
    for i in range(55):
        browser.run(
            builders.client,
            admin["project_id"],
            name=f"Клиент {i:02d}",
            phone=f"+7 916 000-00-{i:02d}",
        )
    first = page(browser.get("/clients"))
    names = [a.get_text() for a in first.select("#results tbody a")]
    assert len(names) == 50 and names[0] == "Клиент 54"
    more = first.find("a", string=lambda s: s and "Дальше" in s)
    second = page(browser.get(more["href"]))
    assert [a.get_text() for a in second.select("#results tbody a")] == [
        f"Клиент {i:02d}" for i in range(4, -1, -1)
    ]


def test_the_card_shows_client_details_variables_and_dialog(browser, admin):
    client = browser.run(builders.client, admin["project_id"], responsible_id=admin["id"])
    browser.run(
        dialogs.add_message,
        admin["project_id"],
        client["id"],
        dialogs.MessageKind.SYSTEM,
        "megafon_call_event ACCEPTED",
    )
    card = browser.get(f"/clients/{client['id']}")
    html = page(card)
    assert html.select_one("#client-title").get_text() == "Мария Иванова"
    facts = html.select_one(".facts").get_text(" ")
    assert "Телефония" in facts and "+7 916 123-45-67" in facts and admin["name"] in facts
    assert "ему можно звонить" in text_of(card)
    assert [li.get_text(" ", strip=True).split(" ")[0:2] for li in html.select("#messages li")] == [
        ["megafon_call_event", "ACCEPTED"]
    ]


def test_variables_are_added_edited_and_removed_in_place(browser, admin):
    client = browser.run(builders.client, admin["project_id"])
    url = f"/clients/{client['id']}/variables"
    added = browser.htmx("POST", url, {"name": "city", "value": "Москва"})
    assert added.text.lstrip().startswith('<section id="variables"') and "Москва" in added.text
    edited = browser.htmx("POST", url, {"name": "city", "value": "Казань"})
    assert "Казань" in edited.text and "Москва" not in edited.text
    bad = browser.htmx("POST", url, {"name": "1 плохое имя", "value": "x"})
    assert (
        bad.status_code == 422
        and "Имя переменной" in page(bad).select_one("#var-name-error").get_text()
    )
    assert page(bad).select_one("#var-value").get_text() == "x"
    removed = browser.htmx("POST", f"{url}/city/delete")
    assert "Переменных пока нет" in removed.text
    # Without JavaScript the same forms work as plain posts.
    browser.submit(url, {"name": "source", "value": "сайт"})
    assert "сайт" in text_of(browser.get(f"/clients/{client['id']}"))


def test_a_note_is_added_to_the_dialog(browser, admin):
    client = browser.run(builders.client, admin["project_id"])
    response = browser.htmx(
        "POST", f"/clients/{client['id']}/notes", {"text": "Перезвонить в 15:00"}
    )
    html = page(response)
    assert html.select_one("form#note-form textarea").get_text() == ""
    oob = html.select_one("[hx-swap-oob='beforeend:#messages'] li.note")
    assert "Перезвонить в 15:00" in oob.get_text() and admin["name"] in oob.get_text()
    empty = browser.htmx("POST", f"/clients/{client['id']}/notes", {"text": "  "})
    assert empty.status_code == 422 and "Напишите текст" in empty.text
    card = browser.get(f"/clients/{client['id']}")
    assert [li.select_one("p").get_text() for li in page(card).select("#messages li")] == [
        "Перезвонить в 15:00"
    ]


@pytest.mark.parametrize(
    ("method", "pbx", "expect"),
    [
        ("disabled", "", None),
        ("app", "", "a[href='tel:+79161234567']"),
        ("megafon_api", "701", "button[aria-label='Позвонить'][hx-post]"),
    ],
)
def test_the_phone_icon_follows_the_employees_call_method(browser, admin, method, pbx, expect):
    browser.run(
        builders.manager,
        admin["project_id"],
        email="ivan@romashka.ru",
        call_method=method,
        pbx_user=pbx,
    )
    client = browser.run(builders.client, admin["project_id"])
    browser.submit("/logout")
    browser.login("ivan@romashka.ru")
    html = page(browser.get(f"/clients/{client['id']}"))
    icons = html.select(".phone-line .call-icon")
    if expect is None:
        assert icons == []
    else:
        assert len(icons) == 1 and html.select_one(f".phone-line {expect}") is not None


def test_the_call_button_explains_that_megafon_is_not_connected_yet(browser, admin):
    browser.run(builders.set_call_method, admin, "megafon_api", "701")
    client = browser.run(builders.client, admin["project_id"])
    response = browser.htmx("POST", f"/clients/{client['id']}/call")
    assert response.status_code == 409 and "не подключена" in response.text
    assert f'id="call-status-{client["id"]}"' in response.text


def test_clients_of_another_project_are_not_found(browser, admin):
    stranger = browser.run(builders.admin, project="Лютик")
    theirs = browser.run(builders.client, stranger["project_id"], name="Чужой")
    for url in [f"/clients/{theirs['id']}", f"/clients/{theirs['id']}/edit"]:
        assert browser.get(url).status_code == 404
    assert browser.htmx("POST", f"/clients/{theirs['id']}/notes", {"text": "x"}).status_code == 404
    assert "Чужой" not in text_of(browser.get("/clients?q=чужой"))


def test_edit_a_client(browser, admin):
    client = browser.run(builders.client, admin["project_id"])
    response = browser.submit(
        f"/clients/{client['id']}/edit",
        {
            "name": "Мария Петрова",
            "phone": "+7 903 111-22-33",
            "client_type": "whatsapp",
            "responsible_id": "",
        },
    )
    facts = page(response).select_one(".facts").get_text(" ")
    assert "WhatsApp" in facts and "+7 903 111-22-33" in facts and "Не назначен" in facts


def test_invisible_nul_characters_in_forms_are_dropped_not_a_crash(browser, admin):
    response = browser.submit(
        "/clients/new",
        {"name": "Мар\x00ия", "phone": "+7 916 123-45-67", "client_type": "telephony"},
    )
    assert page(response).select_one("#client-title").get_text() == "Мария"
