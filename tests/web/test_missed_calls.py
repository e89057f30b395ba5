"""«Пропущенные» end to end: calls played by our PBX simulator over real HTTP open the queue's
items, a callback from the card or the client's own call closes them with who and how fast,
an employee closes by hand and reopens; the dialog tells bots each step; nothing doubles."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core import audit, projects
from core.telephony import missed_queue
from tests.support import builders
from tests.support import megafon as samples
from tests.support.crm_and_pbx import Pair, eventually
from tests.support.crm_and_pbx import pair as pair  # the fixture: the CRM and the PBX
from tests.support.databases import run_core
from tests.support.pages import page, text_of
from web.templating import MOSCOW

MARIA = "79265550101"  # the pair's client, +7 926 555-01-01


def play(pair: Pair, scenario: str, phone: str = MARIA) -> None:
    pair.pbx("POST", "/simulator/scenario", json={"scenario": scenario, "phone": phone})


def queue_rows(browser: Any) -> list[str]:
    html = page(browser.get("/missed"))
    return [" ".join(li.get_text(" ").split()) for li in html.select("#missed-queue li")]


def closed_rows(browser: Any) -> list[str]:
    html = page(browser.get("/missed/closed"))
    return [" ".join(tr.get_text(" ").split()) for tr in html.select("table tbody tr")]


def nav_count(browser: Any, url: str = "/clients") -> str:
    return page(browser.get(url)).select_one("#missed-count").get_text(strip=True)


def items(pair: Pair) -> list[dict[str, Any]]:
    return [dict(r) for r in run_core(pair.url, missed_queue.queue, pair.ids["project"])]


def test_missed_twice_then_called_back_from_the_card_closes_with_who_and_how_fast(pair):
    pair.connect()
    ivan = pair.browser("ivan@romashka.ru")
    assert nav_count(ivan) == ""
    play(pair, "missed")
    eventually(lambda: items(pair))
    play(pair, "missed")
    [row] = eventually(lambda: (found := queue_rows(ivan)) and "Попыток: 2" in found[0] and found)
    first = items(pair)[0]["opened_at"].astimezone(MOSCOW).strftime("%H:%M")
    assert f"Попыток: 2, первая в {first}" in row and "+7 926 555-01-01" in row
    assert nav_count(ivan) == "1"
    assert page(ivan.get("/missed")).select_one("#missed-queue li button.call-icon")

    started = ivan.htmx("POST", f"/clients/{pair.ids['client']}/call")
    assert started.status_code == 200
    [closed] = eventually(lambda: closed_rows(ivan))
    assert "Перезвонили" in closed and "Иван Петров" in closed
    assert re.search(r"\d+ мин \d\d с", closed)  # the time to callback
    assert queue_rows(ivan) == [] and nav_count(ivan) == ""
    dialog = pair.dialog(pair.ids["client"])
    assert dialog[-2:] == ["megafon_call_status Success", "megafon_missed_closed outbound"]


def test_the_client_calling_back_and_answered_closes_it_as_inbound(pair):
    pair.connect()
    anna = pair.browser("anna@romashka.ru")
    play(pair, "missed")
    eventually(lambda: queue_rows(anna))
    play(pair, "answered")
    [closed] = eventually(lambda: closed_rows(anna))
    assert "Клиент дозвонился сам" in closed
    assert pair.dialog(pair.ids["client"])[-1] == "megafon_missed_closed inbound"


def test_closed_by_hand_with_a_reason_then_reopened(pair):
    pair.connect()
    ivan = pair.browser("ivan@romashka.ru")
    play(pair, "missed")
    eventually(lambda: queue_rows(ivan))
    form = page(ivan.get("/missed")).select_one("form.missed-close-form")
    action = form["action"]

    bad = ivan.htmx("POST", action, {"reason": "other", "note": "   "})
    assert bad.status_code == 422
    assert "Напишите, почему закрываете." in text_of(bad)
    kept = page(bad).select_one("form.missed-close-form")
    assert kept.select_one("input[name=reason][value=other]").has_attr("checked")
    assert len(queue_rows(ivan)) == 1  # nothing lost

    done = ivan.htmx("POST", action, {"reason": "not_relevant", "note": "купил у соседей"})
    assert done.status_code == 200 and page(done).select("#missed-queue li") == []
    [closed] = closed_rows(ivan)
    assert "Закрыт вручную: Не актуально: купил у соседей" in closed and "Иван Петров" in closed
    again = ivan.htmx("POST", action, {"reason": "not_reached"})
    assert again.status_code == 409

    reopen = page(ivan.get("/missed/closed")).select_one("table form")["action"]
    ivan.submit(reopen)
    assert len(queue_rows(ivan)) == 1 and closed_rows(ivan) == []
    assert pair.dialog(pair.ids["client"])[-3:] == [
        "megafon_missed_opened",
        "megafon_missed_closed manual",
        "megafon_missed_reopened",
    ]


def test_a_repeated_history_adds_no_second_attempt(browser):
    admin = browser.run(builders.admin, email="anna@romashka.ru")
    key = browser.run(projects.generate_api_key, admin["project_id"])
    browser.login("anna@romashka.ru")
    history = {**samples.W10, "crm_token": key}
    for _ in range(2):
        assert browser.post("/megafon_webhook", data=history).status_code == 200
    # The PBX's second thoughts on the same call (another field) add nothing either
    assert browser.post("/megafon_webhook", data={**history, "wait": "9"}).status_code == 200
    [row] = queue_rows(browser)
    assert "Попыток: 1" in row
    card = page(browser.get("/missed")).select_one("#missed-queue a")["href"]
    assert text_of(browser.get(card)).count("megafon_missed_opened") == 1


def test_thresholds_are_the_admins_checked_and_journaled(browser):
    admin = browser.run(builders.admin, email="anna@romashka.ru")
    browser.run(builders.manager, admin["project_id"], email="ivan@romashka.ru")
    browser.login("ivan@romashka.ru")
    html = page(browser.get("/missed"))
    assert html.select_one("#missed-thresholds") is None
    assert browser.submit("/missed/thresholds", {"warn": "5", "alert": "10"}).status_code == 403

    browser.login("anna@romashka.ru")
    form = page(browser.get("/missed")).select_one("#missed-thresholds")
    assert form.select_one("input[name=warn]")["value"] == "15"
    assert form.select_one("input[name=alert]")["value"] == "60"
    bad = browser.submit("/missed/thresholds", {"warn": "30", "alert": "20"})
    assert bad.status_code == 422
    assert "Второй порог должен быть больше первого" in text_of(bad)
    kept = page(bad).select_one("#missed-thresholds")
    assert kept.select_one("input[name=warn]")["value"] == "30"  # what was typed stays
    assert kept.select_one("input[name=alert]")["value"] == "20"
    assert browser.submit("/missed/thresholds", {"warn": "x", "alert": "20"}).status_code == 422

    saved = browser.submit("/missed/thresholds", {"warn": "10", "alert": "45"})
    assert "Пороги сохранены." in text_of(saved)
    entries, _ = browser.run(audit.journal, admin["project_id"])
    assert entries[0]["action"] == "missed_thresholds_changed"
    assert entries[0]["details"] == {"old": [15, 60], "new": [10, 45]}


@pytest.mark.parametrize("minutes_ago", [5, 20, 90])
def test_waiting_past_a_threshold_is_coloured(browser, minutes_ago):
    admin = browser.run(builders.admin, email="anna@romashka.ru")
    key = browser.run(projects.generate_api_key, admin["project_id"])
    browser.login("anna@romashka.ru")
    start = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).strftime("%Y%m%dT%H%M%SZ")
    browser.post("/megafon_webhook", data={**samples.W10, "start": start, "crm_token": key})
    item = page(browser.get("/missed")).select_one("#missed-queue li")
    tone, waiting = {
        5: ("wait-ok", "Ждёт 5 мин"),
        20: ("wait-warn", "Ждёт 20 мин"),
        90: ("wait-alert", "Ждёт 1 ч 30 мин"),
    }[minutes_ago]
    assert tone in item["class"] and waiting in item.get_text()


def test_managers_see_the_whole_projects_queue_and_no_other_project(browser):
    admin = browser.run(builders.admin, email="anna@romashka.ru")
    key = browser.run(projects.generate_api_key, admin["project_id"])
    browser.run(builders.manager, admin["project_id"], email="ivan@romashka.ru")
    other = browser.run(builders.admin, project="Лютик", email="boss@lutik.ru")
    browser.post("/megafon_webhook", data={**samples.W10, "crm_token": key})
    browser.login("ivan@romashka.ru")
    assert len(queue_rows(browser)) == 1 and nav_count(browser) == "1"
    browser.login("boss@lutik.ru")
    assert queue_rows(browser) == [] and nav_count(browser) == ""
    assert "Все клиенты получили ответ" in text_of(browser.get("/missed"))
    item_id = browser.run(missed_queue.queue, admin["project_id"])[0]["id"]
    assert browser.submit(f"/missed/{item_id}/close", {"reason": "not_reached"}).status_code == 404
    assert browser.submit(f"/missed/{item_id}/reopen").status_code == 404
    assert other["project_id"] != admin["project_id"]
