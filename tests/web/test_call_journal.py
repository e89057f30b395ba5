"""«Звонки»: the project's calls played through the webhook, each filter, the search by number in
any format, the export as CSV and XLSX, and other projects' calls out of sight."""

import csv
import io

import openpyxl
import pytest

from core import clients, employees, projects
from tests.support import builders
from tests.support import megafon as samples
from tests.support.pages import page

ANSWERED_IN = [samples.W3, samples.W8]  # Мария 79265550101 talks to ivanov
MISSED_IN = [samples.W10]  # 79031234567, nobody answered
OUTBOUND = [samples.W11, {**samples.W11, "cmd": "history", "type": "out", "status": "Busy"}]


def day_of_calls(browser, project_name="Ромашка", email="anna@romashka.ru"):
    """A project whose PBX reported an answered inbound, a missed inbound and a busy outbound
    call; Иван (PBX login ivanov) answered the first and placed the last."""
    admin = browser.run(builders.admin, project=project_name, email=email)
    key = browser.run(projects.generate_api_key, admin["project_id"])
    browser.run(
        builders.manager,
        admin["project_id"],
        name="Иван Петров",
        email="ivan-" + email,
        call_method=employees.CallMethod.MEGAFON,
        pbx_user="ivanov",
    )
    for hook in [*ANSWERED_IN, *MISSED_IN, *OUTBOUND]:
        response = browser.post("/megafon_webhook", data={**hook, "crm_token": key})
        assert response.status_code == 200, response.text
    return admin, key


def rows(browser, url="/calls"):
    response = browser.get(url)
    assert response.status_code == 200
    return [" ".join(tr.get_text(" ").split()) for tr in page(response).select("#journal-rows tr")]


def phones_in(found):
    return [
        next(p for p in ("9265550101", "9031234567", "9199378888") if p in row)
        for row in [r.replace(" ", "").replace("-", "") for r in found]
    ]


def test_the_journal_lists_every_call_newest_first_with_its_details(browser):
    day_of_calls(browser)
    browser.login("anna@romashka.ru")
    found = rows(browser)
    assert phones_in(found) == ["9199378888", "9031234567", "9265550101"]
    outbound, missed, answered = found
    assert "Исходящий" in outbound and "Занято" in outbound and "Иван Петров" in outbound
    assert "Входящий" in missed and "Пропущенный" in missed
    assert "Входящий" in answered and "Успешный" in answered and "3:04" in answered
    assert "Иван Петров" in answered and "15.03.2024 12:15" in answered
    html = page(browser.get("/calls"))
    answered_row = html.select("#journal-rows tr")[-1]
    assert answered_row.select_one("audio")["src"] == samples.RECORD
    card = browser.get(answered_row.select_one("a")["href"])
    assert card.status_code == 200 and "/clients/" in str(card.url)
    assert html.select_one("nav a[aria-current=page]").get_text() == "Звонки"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("direction=in", ["9031234567", "9265550101"]),
        ("direction=out", ["9199378888"]),
        ("status=Missed", ["9031234567"]),
        ("status=Success", ["9265550101"]),
        ("status=Busy&direction=in", []),
        ("period=today", ["9199378888", "9031234567", "9265550101"]),
        ("period=week", ["9199378888", "9031234567", "9265550101"]),
        ("period=yesterday", []),
        ("from=2020-01-01&to=2020-12-31", []),
        ("q=8 926 555-01-01", ["9265550101"]),
        ("q=%2B7 (903) 123-45-67", ["9031234567"]),
        ("q=79199378888", ["9199378888"]),
        ("q=nobody-here", []),
        (
            "direction=sideways&status=Bogus&period=forever",
            ["9199378888", "9031234567", "9265550101"],
        ),
    ],
)
def test_each_filter_narrows_the_journal_and_lives_in_the_address(browser, query, expected):
    day_of_calls(browser)
    browser.login("anna@romashka.ru")
    assert phones_in(rows(browser, "/calls?" + query)) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-02-31&direction=in", "Не удалось прочитать дату «2026-02-31»"),
        ("to=вчера&direction=in", "Не удалось прочитать дату «вчера»"),
        ("from=2026-03-10&to=2026-03-01&direction=in", "Дата «С» позже даты «По»"),
        ("to=9999-12-31&direction=in", "Дата 31.12.9999 вне журнала"),
        ("from=0001-01-01&direction=in", "Дата 01.01.0001 вне журнала"),
    ],
)
def test_dates_that_cannot_apply_are_explained_and_the_other_filters_still_do(
    browser, query, message
):
    day_of_calls(browser)
    browser.login("anna@romashka.ru")
    html = page(browser.get("/calls?" + query))
    assert message in html.select_one("#journal-dates-error").get_text()
    assert html.select_one("#journal-from")["aria-invalid"] == "true"
    assert phones_in(rows(browser, "/calls?" + query)) == ["9031234567", "9265550101"]
    export = html.find("a", string="CSV")["href"]
    assert "direction=in" in export and "2026" not in export and "вчера" not in export


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=0001-01-01&to=9999-12-31", "Дата 01.01.0001 вне журнала"),
        ("from=2026-13-45", "Не удалось прочитать дату «2026-13-45»"),
    ],
)
def test_analytics_explains_dates_that_cannot_apply_too(browser, query, message):
    day_of_calls(browser)
    browser.login("anna@romashka.ru")
    response = browser.get("/analytics?" + query)
    assert response.status_code == 200
    assert message in page(response).select_one("p.error").get_text()


def test_dates_as_people_write_them_apply(browser):
    day_of_calls(browser)
    browser.login("anna@romashka.ru")
    html = page(browser.get("/calls?from=01.01.2020&to=31.12.2020"))
    assert html.select_one("#journal-dates-error") is None
    assert rows(browser, "/calls?from=01.01.2020&to=31.12.2020") == []


def test_a_manager_sees_the_projects_calls_and_mine_are_the_ones_he_took(browser):
    admin, _ = day_of_calls(browser)
    browser.login("ivan-anna@romashka.ru")
    assert len(rows(browser)) == 3
    assert phones_in(rows(browser, "/calls?employee=me")) == ["9199378888", "9265550101"]
    ivan = [e for e in browser.run(employees.list_employees, admin["project_id"]) if e["pbx_user"]]
    by_id = rows(browser, f"/calls?employee={ivan[0]['id']}")
    assert phones_in(by_id) == ["9199378888", "9265550101"]
    # An employee with no PBX login took no calls: not everyone's
    assert rows(browser, f"/calls?employee={admin['id']}") == []


def test_a_client_name_finds_the_clients_calls_and_the_card_links_to_them(browser):
    admin, _ = day_of_calls(browser)
    browser.login("anna@romashka.ru")
    answered = page(browser.get("/calls?q=79265550101")).select_one("#journal-rows a")
    card_url = answered["href"]
    client_id = int(card_url.rsplit("/", 1)[1])
    renamed = clients.ClientInput(name="Мария Иванова", phone="79265550101")
    browser.run(clients.update_client, admin["project_id"], client_id, renamed)
    assert phones_in(rows(browser, "/calls?q=мария")) == ["9265550101"]
    link = page(browser.get(card_url)).find("a", string=lambda s: s and "Все звонки" in s)
    assert link is not None
    assert phones_in(rows(browser, link["href"])) == ["9265550101"]


def test_export_csv_opens_in_russian_excel_and_matches_the_filtered_journal(browser):
    day_of_calls(browser)
    browser.login("anna@romashka.ru")
    response = browser.get("/calls/export.csv?direction=in")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert table[0][:6] == ["Время", "Направление", "Клиент", "Номер", "Сотрудник", "Статус"]
    assert [(r[1], r[3], r[5]) for r in table[1:]] == [
        ("Входящий", "79031234567", "Пропущенный"),
        ("Входящий", "79265550101", "Успешный"),
    ]
    assert table[2][4] == "Иван Петров" and table[2][7] == "184"
    assert table[2][9] == samples.RECORD


def test_export_xlsx_holds_the_same_rows(browser):
    day_of_calls(browser)
    browser.login("anna@romashka.ru")
    response = browser.get("/calls/export.xlsx?employee=me")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True).active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0][:4] == ["Время", "Направление", "Клиент", "Номер"]
    assert values[1:] == []  # Анна has no PBX login: none are hers
    everything = browser.get("/calls/export.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(everything.content), read_only=True).active
    numbers = [r[3] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert numbers == ["79199378888", "79031234567", "79265550101"]


def test_another_projects_calls_stay_out_of_sight(browser):
    day_of_calls(browser)
    day_of_calls(browser, project_name="Лютик", email="olga@lutik.ru")
    browser.login("olga@lutik.ru")
    assert len(rows(browser)) == 3
    lutik_client = page(browser.get("/calls")).select_one("#journal-rows a")["href"]
    browser.submit("/logout")
    browser.login("anna@romashka.ru")
    assert len(rows(browser)) == 3
    assert browser.get(lutik_client.replace("/clients/", "/calls?client=")).status_code == 404
    csv_text = browser.get("/calls/export.csv").content.decode("utf-8-sig")
    assert len(csv_text.strip().splitlines()) == 4


def test_signed_out_the_journal_and_its_export_ask_to_sign_in(browser):
    browser.run(builders.admin)
    assert browser.get("/calls").url.path == "/login"
    assert browser.get("/calls/export.csv").url.path == "/login"
