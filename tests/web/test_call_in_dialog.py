"""A call is one living item in the client's dialog (issue 12, item 5): calls of our PBX simulator
reach the CRM over real HTTP, step by step and whole; each call is shown once, where it happened,
as it is now, with the `megafon_call_*` messages that bots match kept beside it, word for word."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from bs4 import Tag

from core import dialogs
from core.db import Database
from core.tables import calls
from tests.support import builders
from tests.support.databases import run_core
from tests.support.megafon import MARIA
from tests.support.pages import call_lines, fragment, page
from tests.support.servers import LiveBrowser, LiveServer, Stream
from web.app import create_app
from web.config import Settings
from web.pbx_simulator import SimulatorConfig, create_simulator
from web.pbx_simulator.config import default_users
from web.pbx_simulator.scenarios import Call as SimulatedCall

TOKEN = "pbx-secret-token-1234"
IVANOV, SIDOROVA = default_users()[1], default_users()[2]  # the simulator's employees
RECORDS = "https://vats.example/records"


def eventually(check: Callable[[], Any], seconds: float = 15) -> Any:
    deadline = time.monotonic() + seconds
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError("not within the deadline")
        time.sleep(0.05)
    return value


class Crm:
    """The CRM as a live server, Анна signed in, and the PBX simulator calling it."""

    def __init__(self, server: LiveServer, sim: LiveServer, url: str, ids: dict[str, Any]):
        self.server, self.sim, self.url, self.ids = server, sim, url, ids
        self.anna = LiveBrowser(base_url=server.url, follow_redirects=True, timeout=15)
        self.anna.login("anna@romashka.ru")
        self.card_path = f"/clients/{ids['maria']}"

    def webhook(self, fields: dict[str, str]) -> None:
        response = httpx.post(
            self.server.url + "/megafon_webhook",
            data={**fields, "crm_token": self.ids["key"]},
            timeout=10,
        )
        assert response.status_code == 200, response.text

    def scenario(self, name: str) -> str:
        """The simulator plays a call to the CRM, a webhook at a time; its callid."""
        response = httpx.post(
            self.sim.url + "/simulator/scenario",
            json={"scenario": name, "phone": MARIA, "user": "ivanov"},
            timeout=10,
        )
        callid: str = response.json()["callid"]
        return callid

    def items(self) -> list[Tag]:
        """What the card's dialog shows, in order: its direct items."""
        return page(self.anna.get(self.card_path)).select("#messages > li")

    def texts(self) -> list[str]:
        """The dialog's messages as stored, which bots match."""
        found = run_core(self.url, dialogs.dialog, self.ids["project"], self.ids["maria"])
        return [m["text"] for m in found.messages]


def seen(item: Tag) -> dict[str, Any]:
    """A call's item as a person reads it."""
    badge = item.select_one(".call-head .badge")
    assert badge is not None
    return {
        "stage": item["data-stage"],
        "status": badge.get_text(strip=True),
        "tone": [c for c in badge["class"] if c.startswith("tone-")],
        "lines": call_lines(item),
    }


def words(item: Tag) -> str:
    return " ".join(item.get_text(" ").split())


@pytest.fixture
def crm(database_url: str) -> Iterator[Crm]:
    settings = Settings(
        database_url=database_url, secret_key="calls", cheap_passwords=True, sse_ping=1
    )
    with LiveServer(create_app(settings)) as server:
        ids = run_core(database_url, builders.call_center)  # Иван Петров is `ivanov` on the PBX
        config = SimulatorConfig(
            api_key=TOKEN, crm_url=server.url + "/megafon_webhook", crm_key=ids["key"]
        )
        config.step_delay = 0.05
        with LiveServer(create_simulator(config)) as sim:
            crm = Crm(server, sim, database_url, ids)
            yield crm
            crm.anna.close()


def test_a_call_is_one_item_that_follows_each_step_of_the_pbx(crm):
    contact, incoming, accepted, completed, history = SimulatedCall(
        "sim-1", MARIA, RECORDS
    ).scenario("answered", IVANOV, SIDOROVA)
    crm.webhook(contact)
    assert crm.items() == []

    crm.webhook(incoming)  # the PBX writes nothing to the dialog yet: the call rings in it
    [item] = crm.items()
    ringing = {"stage": "ringing", "status": "Звонит", "tone": ["tone-live"], "lines": []}
    assert seen(item) == ringing
    assert "Входящий" in words(item) and item.select_one(".call-arrow").get_text() == "↙"

    crm.webhook(accepted)
    [item] = crm.items()
    assert seen(item) == {
        "stage": "talking",
        "status": "Разговор",
        "tone": ["tone-live"],
        "lines": ["megafon_call_event ACCEPTED"],
    }
    assert item.select_one(".call-who").get_text() == "Иван Петров"  # who talks

    crm.webhook(completed)
    [item] = crm.items()
    assert seen(item)["stage"] == "ended" and seen(item)["status"] == "Завершён"
    assert seen(item)["lines"] == ["megafon_call_event ACCEPTED", "megafon_call_event COMPLETED"]

    crm.webhook(history)
    crm.webhook({"cmd": "rating", "callid": "sim-1", "rating": "5"})
    [item] = crm.items()
    assert seen(item) == {
        "stage": "ended",
        "status": "Успешный",
        "tone": ["tone-success"],
        "lines": [
            "megafon_call_event ACCEPTED",
            "megafon_call_event COMPLETED",
            "megafon_call_status Success",
        ],
    }
    text = words(item)
    assert "Разговор: 0:42" in text and "Иван Петров" in text and "★ 5" in text
    assert item.select_one("audio")["src"] == history["link"]
    assert item.select_one("a.call-record")["href"] == history["link"]
    # The messages themselves stay in the dialog as they were: bots match them literally.
    assert crm.texts() == seen(item)["lines"]


def pbx_texts(texts: list[str]) -> list[str]:
    """The call's own notifications (the missed-call queue writes messages of its own)."""
    return [t for t in texts if t.startswith("megafon_call_") or not t.startswith("megafon_")]


def test_calls_the_simulator_plays_each_show_once_where_they_happened(crm):
    anna = crm.anna

    def ended() -> int:
        return sum("megafon_call_status" in t for t in crm.texts())

    for played, name in enumerate(("answered", "missed", "busy"), start=1):
        crm.scenario(name)  # one after another, so that their places are known
        eventually(lambda want=played: ended() == want)
        if name == "answered":  # a note between two calls stays between them
            anna.htmx("POST", f"{crm.card_path}/notes", {"text": "Перезвонить после обеда"})
    items = [i for i in crm.items() if {"call-item", "note"} & set(i["class"])]
    assert [i["class"][1] for i in items] == ["call-item", "note", "call-item", "call-item"]
    answered, missed, busy = (seen(i) for i in items if "call-item" in i["class"])
    for call in (answered, missed, busy):
        call["lines"] = pbx_texts(call["lines"])
    assert (answered["status"], answered["tone"]) == ("Успешный", ["tone-success"])
    assert (missed["status"], missed["tone"]) == ("Пропущенный", ["tone-missed"])
    assert (busy["status"], busy["tone"]) == ("Занято", ["tone-failed"])
    assert missed["lines"] == ["megafon_call_status Missed"]  # INCOMING, CANCELLED ring only
    assert busy["lines"] == ["megafon_call_event OUTGOING", "megafon_call_status Busy"]
    assert "Исходящий" in words(items[3]) and items[3].select_one(".call-arrow").get_text() == "↗"
    assert pbx_texts(crm.texts()) == [
        *answered["lines"],
        "Перезвонить после обеда",
        *missed["lines"],
        *busy["lines"],
    ]
    # The card links to all of the client's calls in «Звонки»; it lists none itself.
    card = page(anna.get(crm.card_path))
    link = card.find("a", string=lambda s: bool(s) and "Все звонки клиента" in s)
    assert link["href"] == f"/calls?client={crm.ids['maria']}"
    assert card.select_one(".client-side").select(".call-item, audio") == []


def test_an_open_card_hears_the_call_change_in_place(crm):
    stream = Stream(crm.anna, page(crm.anna.get(crm.card_path)).body["sse-connect"])
    try:
        steps = SimulatedCall("sim-2", MARIA, RECORDS).scenario("answered", IVANOV, SIDOROVA)
        shown = []
        for fields in steps:
            crm.webhook(fields)
            if fields["cmd"] != "contact":
                item = fragment(stream.wait_for("call").data).select_one("li.call-item")
                shown.append((item["id"], item["data-stage"], len(call_lines(item))))
        assert len({item_id for item_id, _, _ in shown}) == 1  # the same item, anew each time
        assert [(stage, lines) for _, stage, lines in shown] == [
            ("ringing", 0),
            ("talking", 1),
            ("ended", 2),
            ("ended", 3),
        ]
        assert not [e for e in stream.received if e.event == "message"]  # all inside the item
    finally:
        stream.close()


def test_messages_of_calls_from_before_show_as_they_always_did(crm):
    async def before(db: Database) -> None:
        """A call and its messages written before messages named their call."""
        project, maria = crm.ids["project"], crm.ids["maria"]
        now = dialogs.clock.now()
        await db.execute(
            calls.insert().values(
                project_id=project,
                callid="old-1",
                client_id=maria,
                phone=MARIA,
                direction="in",
                status="Success",
                created_at=now,
                updated_at=now,
            )
        )
        for text in ("megafon_call_event ACCEPTED", "megafon_call_status Success"):
            await dialogs.add_message(db, project, maria, dialogs.MessageKind.SYSTEM, text)

    run_core(crm.url, before)
    items = crm.items()
    assert [i["class"] for i in items] == [["message", "system"], ["message", "system"]]
    assert [i.select_one(".system-text").get_text() for i in items] == [
        "megafon_call_event ACCEPTED",
        "megafon_call_status Success",
    ]
