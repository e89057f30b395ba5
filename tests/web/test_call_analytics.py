"""«Аналитика» over real HTTP: a day of calls played through our PBX simulator (answered,
missed, missed twice then called back from the card, called back by the client, closed by hand),
every number on the page checked against the journal and its CSV export for the same filter,
and a manager who sees only their own calls."""

from __future__ import annotations

import csv
import io
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from core import clock, projects
from core.db import Database
from core.tables import missed_calls
from core.telephony import call_journal, connection
from core.telephony import missed_calls as missed
from core.telephony.call_journal import JournalFilter
from tests.support import builders
from tests.support.databases import run_core
from tests.support.pages import page
from tests.support.servers import LiveBrowser, LiveServer
from web.app import create_app
from web.config import Settings
from web.pbx_simulator import SimulatorConfig, create_simulator

TOKEN = "pbx-secret-token-1234"
ANSWERED, MISSED, TWICE, CALLS_BACK, BY_HAND = (
    "79265550101",
    "79031234567",
    "79161112233",
    "79162223344",
    "79163334455",
)


def eventually(check: Callable[[], Any], seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError("not within the deadline")
        time.sleep(0.05)
    return value


class Day:
    """The CRM and the PBX simulator, each a real server, and the people of one project."""

    def __init__(self, crm: LiveServer, sim: LiveServer, url: str, ids: dict[str, Any]) -> None:
        self.crm, self.sim, self.url, self.ids = crm, sim, url, ids
        self.browsers: list[LiveBrowser] = []

    def browser(self, email: str) -> LiveBrowser:
        client = LiveBrowser(base_url=self.crm.url, follow_redirects=True, timeout=15)
        self.browsers.append(client)
        client.login(email)
        return client

    def journal(self, f: JournalFilter) -> list[dict[str, Any]]:
        found = run_core(self.url, call_journal.page, self.ids["project"], f, limit=1000)
        return found.rows

    def ended(self) -> int:
        """Calls of the day the PBX has reported the end of."""
        return sum(1 for r in self.journal(JournalFilter()) if r["status"])

    def play(self, scenario: str, phone: str, user: str) -> None:
        """A call the PBX plays, waited for until its end is in the journal."""
        before = self.ended()
        body = {"scenario": scenario, "phone": phone, "user": user}
        assert httpx.post(self.sim.url + "/simulator/scenario", json=body, timeout=10).is_success
        eventually(lambda: self.ended() == before + 1)

    def call_from_card(self, manager: LiveBrowser, client: str, outcome: str) -> None:
        before = self.ended()
        body = {"outcome": outcome}
        httpx.post(self.sim.url + "/simulator/behaviour", json=body, timeout=10)
        started = manager.htmx("POST", f"/clients/{self.ids[client]}/call")
        assert started.status_code == 200, started.text
        eventually(lambda: self.ended() == before + 1)


@pytest.fixture
def day(database_url: str) -> Iterator[Day]:
    settings = Settings(
        database_url=database_url,
        secret_key="analytics",
        cheap_passwords=True,
        pbx_timeout=2.0,
        pbx_allow_private=True,
    )
    with LiveServer(create_app(settings)) as crm:

        async def people(db: Database) -> tuple[str, dict[str, Any]]:
            admin = await builders.admin(db, email="anna@romashka.ru")
            project = admin["project_id"]
            key = await projects.generate_api_key(db, project)
            ivan = await builders.manager(
                db,
                project,
                name="Иван Петров",
                email="ivan@romashka.ru",
                call_method="megafon_api",
                pbx_user="ivanov",
            )
            maria = await builders.manager(
                db,
                project,
                name="Мария Сидорова",
                email="maria@romashka.ru",
                call_method="megafon_api",
                pbx_user="sidorova",
            )
            ids = {"project": project, "admin": admin["id"], "ivan": ivan["id"]}
            ids["maria"] = maria["id"]
            for name, phone in [("answered", ANSWERED), ("twice", TWICE)]:
                ids[name] = (await builders.client(db, project, phone="+" + phone))["id"]
            return key, ids

        key, ids = run_core(database_url, people)
        config = SimulatorConfig(
            api_key=TOKEN, crm_url=crm.url + "/megafon_webhook", crm_key=key, step_delay=0.02
        )
        with LiveServer(create_simulator(config)) as sim:

            async def connect(db: Database) -> None:
                await connection.save(db, ids["project"], TOKEN, sim.url, allow_private=True)

            run_core(database_url, connect)
            played = Day(crm, sim, database_url, ids)
            yield played
            for browser in played.browsers:
                browser.close()


def a_day_of_calls(day: Day) -> None:
    """Иван and Мария take the day's calls; Анна closes one missed call by hand."""
    ivan = day.browser("ivan@romashka.ru")
    day.play("answered", ANSWERED, "ivanov")
    day.play("missed", MISSED, "sidorova")  # never called back: the item stays open
    day.play("missed", TWICE, "ivanov")
    day.play("missed", TWICE, "ivanov")
    day.call_from_card(ivan, "twice", "Success")  # Иван calls back from the card
    day.play("missed", CALLS_BACK, "sidorova")
    day.play("answered", CALLS_BACK, "sidorova")  # the client calls again, Мария answers
    day.play("missed", BY_HAND, "ivanov")
    day.call_from_card(ivan, "answered", "Busy")

    async def close_by_hand(db: Database) -> None:
        p = day.ids["project"]
        [item] = await db.fetch_all(
            sa.select(missed_calls.c.id).where(
                missed_calls.c.project_id == p,
                missed_calls.c.phone.contains(BY_HAND[1:]),
                missed_calls.c.closed_at.is_(None),
            )
        )
        await missed.close_by_hand(db, p, item["id"], day.ids["admin"], missed.Reason.NOT_RELEVANT)

    run_core(day.url, close_by_hand)


def number(cell: Any) -> int:
    return int(cell.get_text(strip=True))


def span(seconds: float | None) -> str:
    """How the page writes a span of time: seconds, minutes and seconds, or hours and minutes."""
    if seconds is None:
        return "—"
    s = round(seconds)  # Jinja's `round` is Python's: half to even
    if s >= 3600:
        return f"{s // 3600} ч {s % 3600 // 60:02d} мин"
    if s >= 60:
        return f"{s // 60} мин" if s % 60 == 0 else f"{s // 60} мин {s % 60:02d} с"
    return f"{s} с"


def exported(browser: LiveBrowser, **query: Any) -> list[dict[str, str]]:
    response = browser.get("/calls/export.csv", params={k: v for k, v in query.items() if v})
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def expected_from(rows: list[dict[str, str]]) -> dict[str, Any]:
    """The numbers «Аналитика» must show for these exported journal rows."""
    incoming = [r for r in rows if r["Направление"] == "Входящий"]
    answered = [r for r in incoming if r["Статус"] == "Успешный"]
    waits = [int(r["Ожидание, с"]) for r in incoming if r["Ожидание, с"]]
    return {
        "calls": len(rows),
        "answered": len(answered),
        "missed": len(incoming) - len(answered),  # every call here has ended
        "outgoing": sum(1 for r in rows if r["Направление"] == "Исходящий"),
        "talk": span(sum(int(r["Разговор, с"] or 0) for r in rows)),
        "wait": span(statistics.mean(waits) if waits else None),
    }


def shown(row: Any) -> dict[str, Any]:
    cells = {td["data-col"]: td for td in row.select("td[data-col]")}
    return {
        "calls": number(cells["calls"]),
        "answered": number(cells["answered"]),
        "missed": number(cells["missed"]),
        "outgoing": number(cells["outgoing"]),
        "talk": cells["talk"].get_text(strip=True),
        "wait": cells["wait"].get_text(strip=True),
    }


def callbacks(day: Day, pbx_user: str | None = None) -> list[int]:
    async def read(db: Database) -> list[int]:
        m = missed_calls.c
        query = sa.select(m.callback_seconds, m.closed_by_pbx_user).where(
            m.project_id == day.ids["project"], m.close_kind.in_(["outbound", "inbound"])
        )
        rows = await db.fetch_all(query)
        return [r["callback_seconds"] for r in rows if pbx_user in (None, r["closed_by_pbx_user"])]

    return run_core(day.url, read)


def test_every_number_of_analytics_is_the_journals_for_the_same_filter(day):
    a_day_of_calls(day)
    anna = day.browser("anna@romashka.ru")
    today = clock.now().astimezone(call_journal.PROJECT_TZ).date()
    period = {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()}
    html = page(anna.get("/analytics", params=period))
    assert html.select_one("nav a[aria-current=page]").get_text() == "Аналитика"

    everything = exported(anna, **period)
    assert len(everything) == 9
    team = expected_from(everything)
    kpi = {dd["data-kpi"]: dd.get_text(strip=True) for dd in html.select("#analytics-team dd")}
    assert (int(kpi["answered"]), int(kpi["missed"]), int(kpi["outgoing"])) == (2, 5, 2)
    assert (kpi["answered"], kpi["missed"], kpi["outgoing"]) == tuple(
        str(team[k]) for k in ("answered", "missed", "outgoing")
    )
    assert kpi["answer-rate"] == f"{round(100 * 2 / 7)}%"
    assert kpi["talk"] == team["talk"]
    assert len(callbacks(day)) == 2  # Иван from the card, Мария when the client called again
    assert kpi["callback"] == span(statistics.median(callbacks(day)))

    rows = {r["data-employee"]: r for r in html.select("#analytics-employees tbody tr")}
    for who, login, calls in [("ivan", "ivanov", 6), ("maria", "sidorova", 3)]:
        row = rows[str(day.ids[who])]
        mine = exported(anna, employee=day.ids[who], **period)
        assert shown(row) == expected_from(mine) and len(mine) == calls
        journal = day.journal(JournalFilter(pbx_user=login))
        assert number(row.select_one("[data-col=calls]")) == len(journal)
        own = callbacks(day, login)
        assert row.select_one("[data-col=callback]").get_text(strip=True) == span(
            statistics.median(own) if own else None
        )
        link = row.select_one("[data-col=answered] a")["href"]
        answered = page(anna.get(link)).select("#journal-rows tr")
        assert len(answered) == expected_from(mine)["answered"]

    by_day = html.select("#chart-days table tbody tr")
    assert len(by_day) == 2
    today_cells = [number(td) for td in by_day[-1].select("td")]
    assert today_cells == [team["answered"], team["missed"], team["outgoing"]]
    heat = sum(number(td) for td in html.select("#chart-heatmap table td"))
    assert heat == team["answered"] + team["missed"]
    assert len(html.select("#chart-days svg rect")) == 3  # one day, three kinds of calls


def test_a_manager_sees_only_their_own_calls_whatever_the_address_asks(day):
    a_day_of_calls(day)
    ivan = day.browser("ivan@romashka.ru")
    for query in ["", f"?employee={day.ids['maria']}", "?employee="]:
        html = page(ivan.get("/analytics" + query))
        assert html.select_one("#analytics-employee") is None  # no choice of employee
        [row] = html.select("#analytics-employees tbody tr")
        assert row["data-employee"] == str(day.ids["ivan"])
        kpi = {dd["data-kpi"]: dd.get_text(strip=True) for dd in html.select("#analytics-team dd")}
        assert (kpi["answered"], kpi["missed"], kpi["outgoing"]) == ("1", "3", "2")
        assert kpi["callback"] == span(statistics.median(callbacks(day, "ivanov")))
