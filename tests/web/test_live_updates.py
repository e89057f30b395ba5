"""Live updates over Server-Sent Events, against a real uvicorn server on 127.0.0.1.

An open client card hears the PBX's webhooks as they arrive; the employee the PBX rings sees an
incoming-call popup that closes with the call; a reconnect gets exactly what it missed.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core import dialogs, employees, events
from core.db import Database
from tests.support import builders
from tests.support.databases import run_core
from tests.support.megafon import MARIA
from tests.support.pages import call_lines, fragment, page, texts
from tests.support.servers import LiveBrowser, LiveServer, Stream
from web import sse
from web.app import create_app
from web.config import Settings

_calls = itertools.count(1)


class Crm:
    """The app as a live server, two projects' people, and the PBX posting webhooks."""

    def __init__(self, server: LiveServer, url: str, ids: dict[str, Any]) -> None:
        self.server, self.url, self.ids = server, url, ids
        self.clients: list[httpx.Client] = []
        self.streams: list[Stream] = []

    def browser(self, email: str) -> LiveBrowser:
        client = LiveBrowser(base_url=self.server.url, follow_redirects=True, timeout=15)
        self.clients.append(client)
        client.login(email)
        return client

    def stream(self, client: httpx.Client, url: str, last_event_id: str | None = None) -> Stream:
        stream = Stream(client, url, last_event_id)
        self.streams.append(stream)
        return stream

    def page_stream(self, client: LiveBrowser, path: str) -> Stream:
        """The stream a page opens: the address in its `sse-connect`."""
        body = page(client.get(path)).body
        assert body is not None
        stream = self.stream(client, body["sse-connect"])
        assert stream.status_code == 200
        return stream

    def webhook(self, key: str | None = None, **fields: str) -> None:
        token = key or self.ids["key"]
        response = httpx.post(
            self.server.url + "/megafon_webhook", data={**fields, "crm_token": token}, timeout=10
        )
        assert response.status_code == 200, response.text

    def call(self, *types: str, callid: str | None = None, **fields: str) -> str:
        callid = callid or f"call-{next(_calls)}"
        for event_type in types:
            event = {"cmd": "event", "type": event_type, "callid": callid, "direction": "in"}
            self.webhook(**{**event, "phone": MARIA, **fields})
        return callid


@pytest.fixture
def crm(database_url: str) -> Iterator[Crm]:
    settings = Settings(
        database_url=database_url, secret_key="live", cheap_passwords=True, sse_ping=1
    )

    async def people(db: Database) -> dict[str, Any]:
        ids = await builders.call_center(db)  # Анна, Иван (`ivanov`), Мария, the API key
        # The PBX login of «Звонки по API Megafon» is also how the PBX names whom it rings.
        await builders.manager(
            db,
            ids["project"],
            name="Пётр Сидоров",
            email="petr@romashka.ru",
            call_method=employees.CallMethod.MEGAFON,
            pbx_user="702",
        )
        other = await builders.admin(db, project="Лютик", email="olga@lutik.ru")
        await builders.client(db, other["project_id"], name="Чужой клиент")
        return ids

    with LiveServer(create_app(settings)) as server:
        crm = Crm(server, database_url, run_core(database_url, people))
        yield crm
        for closable in [*crm.streams, *crm.clients]:  # streams end before the server stops
            closable.close()


def test_an_open_card_shows_the_pbx_events_as_they_arrive(crm):
    anna = crm.browser("anna@romashka.ru")
    card = crm.page_stream(anna, f"/clients/{crm.ids['maria']}")
    crm.call("ACCEPTED", user="ivanov")
    call = card.wait_for("call")  # the call's item in the dialog, its message inside
    item = fragment(call.data).select_one("li.call-item")
    assert item is not None and item["id"].startswith("call-item-")
    assert call_lines(call.data) == ["megafon_call_event ACCEPTED"]
    assert 'id="message-' in call.data
    later = card.quiet(0.5)
    calls = [e for e in card.received if e.event == "call"]
    variables = [e for e in card.received if e.event == "variables"]
    assert len(calls) == len(variables) == 1  # one webhook: each block once
    assert "Разговор" in calls[0].data and "Иван Петров" in calls[0].data
    assert "megafon_call_user" in variables[0].data and "ivanov" in variables[0].data
    assert 'id="variables"' in variables[0].data  # the very fragment the card is made of
    assert not [e for e in card.received if e.event == "message"]  # shown in the call's item
    assert not [e for e in later if e.event == "call"]

    # A note written in another tab appears too, as the dialog shows notes.
    anna.htmx("POST", f"/clients/{crm.ids['maria']}/notes", {"text": "Перезвонить завтра"})
    assert "Перезвонить завтра" in card.wait_for("message").data


def test_a_card_hears_only_its_own_client(crm):
    anna = crm.browser("anna@romashka.ru")
    card = crm.page_stream(anna, f"/clients/{crm.ids['maria']}")
    crm.call("ACCEPTED", phone="79031112233")  # someone else's call
    assert [e.event for e in card.quiet(0.7)] == []


def test_a_reconnect_gets_exactly_what_it_missed_in_order(crm):
    anna = crm.browser("anna@romashka.ru")
    url = f"/events?client={crm.ids['maria']}"
    first = crm.stream(anna, url)
    callid = crm.call("ACCEPTED")
    seen = first.wait_for("call")
    first.quiet(0.3)
    first.close()  # the connection drops

    crm.call("COMPLETED", callid=callid)
    crm.webhook(cmd="history", type="in", status="Success", callid=callid, phone=MARIA)
    anna.htmx("POST", f"/clients/{crm.ids['maria']}/notes", {"text": "Клиент доволен"})

    last = first.received[-1].id
    for resumed in (
        crm.stream(anna, url, last_event_id=last),  # the browser's own reconnect
        crm.stream(anna, f"{url}&after={last}"),  # a stream htmx opens anew
    ):
        missed = resumed.quiet(1.0)
        ids = [int(e.id) for e in missed]
        assert ids == sorted(set(ids)) and min(ids) > int(seen.id)
        assert texts(missed) == ["Клиент доволен"]
        [call] = [e for e in missed if e.event == "call"]  # the latest state, once
        assert call_lines(call.data) == [
            "megafon_call_event ACCEPTED",
            "megafon_call_event COMPLETED",
            "megafon_call_status Success",
        ]
        assert "Успешный" in call.data
        assert [e.event for e in missed].count("variables") == 1
        resumed.close()


def test_a_page_away_too_long_is_told_to_reload(crm):
    anna = crm.browser("anna@romashka.ru")
    crm.call("ACCEPTED")

    async def forget(db: Database) -> None:
        await events.purge(db, now=events.clock.now() + events.KEPT_FOR * 2)

    last = run_core(crm.url, events.latest_id)
    run_core(crm.url, forget)
    crm.call("ACCEPTED")
    stream = crm.stream(anna, f"/events?client={crm.ids['maria']}", last_event_id=str(last - 1))
    assert stream.wait_for("reload").data == "reload"
    assert stream.next() is None


def test_a_page_from_before_the_database_was_replaced_is_told_to_reload(crm):
    anna = crm.browser("anna@romashka.ru")
    stream = crm.stream(anna, f"/events?client={crm.ids['maria']}", last_event_id="999999")
    assert stream.wait_for("reload").data == "reload"


def test_streams_carry_only_the_project_s_own_events(crm):
    olga = crm.browser("olga@lutik.ru")
    assert crm.stream(olga, f"/events?client={crm.ids['maria']}").status_code == 404
    theirs = crm.page_stream(olga, "/clients")
    anna = crm.browser("anna@romashka.ru")
    ours = crm.page_stream(anna, "/clients")
    crm.call("INCOMING", user="nobody")  # no one we know: every employee of the project
    assert "Мария Иванова" in ours.wait_for("popup").data
    assert theirs.quiet(0.5) == []

    anonymous = httpx.Client(base_url=crm.server.url)
    crm.clients.append(anonymous)
    assert crm.stream(anonymous, "/events").status_code == 401


def test_the_rung_employee_sees_the_incoming_call_popup_until_it_is_answered(crm):
    ivan = crm.page_stream(crm.browser("ivan@romashka.ru"), "/clients")
    anna = crm.page_stream(crm.browser("anna@romashka.ru"), "/employees")
    callid = crm.call("INCOMING", user="ivanov@vats123456.megapbx.ru", ext="701")
    popup = ivan.wait_for("popup")
    html = fragment(popup.data)
    assert "Входящий звонок" in html.get_text()
    assert "Мария Иванова" in html.get_text() and "+7 926 555-01-01" in html.get_text()
    assert html.find("a", href=f"/clients/{crm.ids['maria']}") is not None
    assert anna.quiet(0.5) == []  # someone else's phone

    crm.call("ACCEPTED", callid=callid, user="ivanov")
    closed = ivan.wait_for("popup-close")
    assert closed.data == html.section["id"]


def test_an_unknown_caller_rings_everyone_as_a_new_client_and_cancelling_closes_it(crm):
    ivan = crm.page_stream(crm.browser("ivan@romashka.ru"), "/clients")
    anna = crm.page_stream(crm.browser("anna@romashka.ru"), f"/clients/{crm.ids['maria']}")
    callid = crm.call("INCOMING", phone="79035550000", user="")
    for stream in (ivan, anna):
        text = fragment(stream.wait_for("popup").data).get_text(" ")
        assert "новый клиент" in text and "+7 903 555-00-00" in text
    crm.call("CANCELLED", callid=callid, phone="79035550000")
    for stream in (ivan, anna):
        assert stream.wait_for("popup-close").data.startswith("call-popup-")


def test_a_popup_finds_the_employee_by_extension_or_direct_number(crm):
    petr = crm.page_stream(crm.browser("petr@romashka.ru"), "/clients")
    crm.call("INCOMING", user="", ext="702")
    assert "Мария Иванова" in petr.wait_for("popup").data


def test_in_a_group_call_each_employee_s_popup_closes_with_their_own_cancel(crm):
    ivan = crm.page_stream(crm.browser("ivan@romashka.ru"), "/clients")
    petr = crm.page_stream(crm.browser("petr@romashka.ru"), "/clients")
    callid = crm.call("INCOMING", user="ivanov")
    crm.call("INCOMING", callid=callid, user="", ext="702")
    ivan.wait_for("popup")
    petr.wait_for("popup")
    crm.call("ACCEPTED", callid=callid, user="ivanov")
    crm.call("CANCELLED", callid=callid, user="", ext="702")  # Пётр did not pick up
    assert ivan.wait_for("popup-close")
    assert petr.wait_for("popup-close")
    assert [e.event for e in petr.quiet(0.3)] == []


def test_a_page_opened_while_the_phone_rings_shows_the_popup(crm):
    ivan = crm.browser("ivan@romashka.ru")
    callid = crm.call("INCOMING", user="ivanov")
    later = crm.page_stream(ivan, f"/clients/{crm.ids['maria']}")
    assert "Мария Иванова" in later.wait_for("popup").data
    crm.call("COMPLETED", callid=callid, user="ivanov")
    later.wait_for("popup-close")
    # Once the call is over, a new page shows no popup.
    fresh = crm.page_stream(ivan, "/clients")
    assert [e.event for e in fresh.quiet(0.5)] == []


def test_the_card_page_asks_for_one_stream_from_where_it_was_rendered(crm):
    anna = crm.browser("anna@romashka.ru")
    latest = run_core(crm.url, events.latest_id)
    body = page(anna.get(f"/clients/{crm.ids['maria']}")).body
    assert body["hx-ext"] == "sse"
    assert body["sse-connect"] == f"/events?client={crm.ids['maria']}&after={latest}"
    assert len(re.findall(r"sse-connect=", anna.get(f"/clients/{crm.ids['maria']}").text)) == 1


def test_an_update_whose_announcement_was_lost_still_arrives(crm, monkeypatch):
    """A process that wrote an event but whose notification never came (a bus outage):
    streams read their topics again at least every RECHECK_EVERY seconds."""
    monkeypatch.setattr(sse, "RECHECK_EVERY", 0.5)
    anna = crm.browser("anna@romashka.ru")
    card = crm.page_stream(anna, f"/clients/{crm.ids['maria']}")

    async def write_elsewhere(db: Database) -> None:  # no bus: nobody is told
        await dialogs.add_message(db, crm.ids["project"], crm.ids["maria"], "system", "тихо")

    run_core(crm.url, write_elsewhere)
    assert "тихо" in card.wait_for("message", timeout=3).data
