"""«Бот»: admins add, change and delete reactions; a bad calculator line is named, not saved;
a run over a limit is named on the page and in the dialog, and pages answer while one runs."""

import time

from core import calculator, dialogs, reactions
from core.reactions import JobState
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


def wait_for_job(browser, project, state):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        jobs = browser.run(reactions.recent_jobs, project)
        if jobs and jobs[0]["state"] == state:
            return jobs[0]
        time.sleep(0.02)
    raise AssertionError(f"no job {state}")


def test_a_run_over_a_limit_is_named_on_the_bot_page_and_in_the_dialog(browser):
    admin = browser.run(builders.admin, email="anna@romashka.ru")
    project = admin["project_id"]
    maria = browser.run(builders.client, project, name="Мария", phone="+7 926 555-01-01")
    browser.login("anna@romashka.ru")
    too_long = "\n".join(f"x{n} = {n}" for n in range(51))
    refused = browser.submit("/bot", {"pattern": "раздуй", "actions": too_long})
    assert refused.status_code == 422
    assert "Строка 51: в реакции больше 50 строк" in text_of(refused)
    saved = browser.submit(
        "/bot", {"pattern": "раздуй", "actions": "x = 'a'.center(10**9)", "is_active": "on"}
    )
    assert "Реакция сохранена" in text_of(saved)
    browser.run(dialogs.add_message, project, maria["id"], dialogs.MessageKind.INCOMING, "раздуй")
    wait_for_job(browser, project, JobState.FAILED)
    message = "Строка 1: значение больше 10000 символов"
    assert message in text_of(browser.get("/bot"))
    assert f"Бот: реакция не выполнена: {message}" in text_of(
        browser.get(f"/clients/{maria['id']}")
    )


def test_pages_answer_while_a_heavy_reaction_runs(browser, monkeypatch):
    monkeypatch.setattr(calculator, "LIMITS", calculator.Limits(seconds=60))
    admin = browser.run(builders.admin, email="anna@romashka.ru")
    project = admin["project_id"]
    maria = browser.run(builders.client, project, name="Мария", phone="+7 926 555-01-01")
    browser.login("anna@romashka.ru")
    heavy = "s = list('ab' * 1000)\n" + "\n".join(["n = len([s.count('z') for c in s])"] * 5)
    browser.submit("/bot", {"pattern": "считай", "actions": heavy + "\ns = 0", "is_active": "on"})
    browser.run(dialogs.add_message, project, maria["id"], dialogs.MessageKind.INCOMING, "считай")
    wait_for_job(browser, project, JobState.RUNNING)
    answered = []
    while browser.run(reactions.recent_jobs, project)[0]["state"] == JobState.RUNNING:
        started = time.monotonic()
        assert browser.get("/bot").status_code == 200
        answered.append(time.monotonic() - started)
    assert wait_for_job(browser, project, JobState.DONE)["result"] == "s = 0, n = 2000"
    assert len(answered) >= 3
    assert max(answered) < 1  # never waited for the ~1.7 s run
