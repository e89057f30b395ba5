"""«Бот»: admins add, change and delete reactions; a bad calculator line is named, not saved."""

from tests.support import builders
from tests.support.pages import page, text_of


def test_an_admin_adds_changes_and_deletes_a_reaction(browser):
    admin = browser.run(builders.admin, email="anna@romashka.ru")
    browser.login("anna@romashka.ru")
    bad = browser.submit(
        "/bot", {"pattern": "megafon_call_status Missed", "actions": "x = megafon_cal('1', '2')"}
    )
    assert bad.status_code == 422
    assert "Строка 1: неизвестная функция megafon_cal" in text_of(bad)
    assert page(bad).select_one("#f-pattern")["value"] == "megafon_call_status Missed"

    saved = browser.submit(
        "/bot",
        {
            "pattern": "megafon_call_status Missed",
            "actions": "call_id = megafon_call('#{client_phone}', 'ivanov')",
            "is_active": "on",
        },
    )
    assert "Реакция сохранена" in text_of(saved)
    edit = page(saved).select_one("tbody a")["href"]
    changed = browser.submit(
        edit, {"pattern": "перезвоните", "actions": "a = 1", "is_active": "off"}
    )
    row = page(changed).select_one("tbody tr")
    assert "перезвоните" in row.get_text() and "нет" in row.get_text()
    deleted = browser.submit(edit + "/delete")
    assert "Реакций пока нет" in text_of(deleted)

    browser.run(builders.manager, admin["project_id"], email="ivan@romashka.ru")
    browser.submit("/logout")
    browser.login("ivan@romashka.ru")
    assert browser.get("/bot").status_code == 403
    assert browser.get("/telephony").status_code == 403
