"""«Журнал вебхуков», a failure kept with its error, and re-running it; calls in the card."""

import sqlalchemy as sa

from core import projects
from tests.support import builders
from tests.support import megafon as samples
from tests.support.pages import page, text_of


def setup(browser):
    admin = browser.run(builders.admin, email="anna@romashka.ru")
    key = browser.run(projects.generate_api_key, admin["project_id"])
    browser.login("anna@romashka.ru")
    return admin, key


async def execute(db, sql):
    await db.execute(sa.text(sql))


def test_a_failed_delivery_keeps_its_payload_and_error_and_can_be_rerun(browser):
    _, key = setup(browser)
    # A real failure: the calls table is briefly unavailable (as during a botched maintenance).
    browser.run(execute, "ALTER TABLE calls RENAME TO calls_away")
    failed = browser.post("/megafon_webhook", data={**samples.W8, "crm_token": key})
    assert failed.status_code == 500 and "Traceback" not in failed.text
    journal = browser.get("/webhooks?result=error")
    row = page(journal).select_one("tbody tr")
    assert "history" in row.get_text() and "calls" in row.select_one(".error").get_text()
    assert samples.W8["callid"] in row.select_one("pre").get_text()
    browser.run(execute, "ALTER TABLE calls_away RENAME TO calls")
    rerun = browser.submit(row.select_one("form")["action"])
    assert "выполнен повторно" in text_of(rerun)
    assert page(browser.get("/webhooks?result=error")).select("tbody tr") == []
    clients_page = page(browser.get("/clients?q=79265550101"))
    card = browser.get(clients_page.select_one("#results tbody a")["href"])
    assert "megafon_call_status Success" in text_of(card)
    # The effect is there once: a late duplicate of the same history changes nothing.
    assert (
        browser.post("/megafon_webhook", data={**samples.W8, "crm_token": key}).status_code == 200
    )
    assert text_of(browser.get(card.url.path)).count("megafon_call_status Success") == 1


def test_the_journal_shows_results_and_is_for_admins_only(browser):
    admin, key = setup(browser)
    browser.post("/megafon_webhook", data={**samples.W3, "crm_token": key})
    browser.post("/megafon_webhook", data={**samples.W3, "crm_token": key})
    browser.post("/megafon_webhook", data={"cmd": "event", "crm_token": key})
    html = page(browser.get("/webhooks"))
    assert [b.get_text() for b in html.select("tbody .badge")] == ["отклонён", "повтор", "выполнен"]
    browser.run(builders.manager, admin["project_id"], email="ivan@romashka.ru")
    browser.submit("/logout")
    browser.login("ivan@romashka.ru")
    assert browser.get("/webhooks").status_code == 403


def test_calls_are_listed_in_the_card_with_status_employee_and_recording(browser):
    admin, key = setup(browser)
    browser.run(
        builders.manager,
        admin["project_id"],
        name="Иван Петров",
        call_method="megafon_api",
        pbx_user="ivanov",
    )
    for sample in (
        samples.W3,
        samples.W8,
        {"cmd": "rating", "callid": samples.W8["callid"], "rating": "5"},
    ):
        browser.post("/megafon_webhook", data={**sample, "crm_token": key})
    found = page(browser.get("/clients?q=79265550101"))
    card = page(browser.get(found.select_one("#results tbody a")["href"]))
    [call] = card.select("#messages .call-item")  # one item in the dialog for the call
    text = " ".join(call.get_text(" ").split())
    assert "Входящий" in text and "Успешный" in text and "3:04" in text
    assert "Иван Петров" in text and "★ 5" in text and "15.03.2024 12:15" in text
    assert call.select_one("audio")["src"] == samples.RECORD


def test_contact_lookups_are_journaled_and_a_failed_one_is_kept_with_its_error(browser):
    _, key = setup(browser)
    contact = {"cmd": "contact", "phone": "79161234567", "callid": "c-1", "crm_token": key}
    assert browser.post("/megafon_webhook", data=contact).json() == {}
    browser.run(execute, "ALTER TABLE clients RENAME TO clients_away")
    failed = browser.post("/megafon_webhook", data={**contact, "callid": "c-2"})
    assert failed.status_code == 500 and failed.json() == {"error": "Processing failed"}
    browser.run(execute, "ALTER TABLE clients_away RENAME TO clients")
    rows = page(browser.get("/webhooks")).select("tbody tr")
    assert [r.select_one(".badge").get_text() for r in rows] == ["ошибка", "выполнен"]
    assert "clients" in rows[0].select_one(".error").get_text()
