"""Calls: one record per PBX `callid`, gathered from its events; the history has the last word."""

import pytest

from core.telephony import calls, inbox
from tests.support import builders
from tests.support import megafon as samples

pytestmark = pytest.mark.anyio


async def receive(db, ids, **fields):
    await inbox.receive(db, ids["project"], {"phone": samples.MARIA, **fields})


async def test_a_calls_events_and_history_make_one_record(db):
    ids = await builders.call_center(db)
    await receive(db, ids, cmd="event", type="INCOMING", callid="c1", user="ivanov", ext="701")
    await receive(db, ids, cmd="event", type="ACCEPTED", callid="c1", direction="in")
    await receive(db, ids, cmd="event", type="COMPLETED", callid="c1")
    await receive(
        db, ids, cmd="history", type="in", status="Success", callid="c1", duration="184",
        start="20240315T091512Z", link="https://records.example/c1.mp3",
    )  # fmt: skip
    [call] = await calls.calls_of_client(db, ids["maria"])
    assert call == await calls.find_call(db, ids["project"], "c1")
    assert (call["client_id"], call["phone"], call["direction"]) == (
        ids["maria"],
        samples.MARIA,
        "in",
    )
    assert (call["pbx_user"], call["ext"], call["last_event"]) == ("ivanov", "701", "COMPLETED")
    assert (call["status"], call["duration"]) == ("Success", 184)
    assert call["record_link"] == "https://records.example/c1.mp3"
    assert None not in (call["incoming_at"], call["accepted_at"], call["ended_at"])
    assert calls.status_label(call) == "Успешный"
    assert calls.direction_label(call["direction"]) == "Входящий"


async def test_an_event_after_the_history_never_changes_the_outcome(db):
    ids = await builders.call_center(db)
    await receive(db, ids, cmd="history", type="in", status="Missed", callid="c1", duration="0")
    await receive(db, ids, cmd="event", type="ACCEPTED", callid="c1", user="ivanov")
    call = await calls.find_call(db, ids["project"], "c1")
    assert (call["status"], call["last_event"], call["duration"]) == ("Missed", "", 0)
    assert call["pbx_user"] == "ivanov"  # details it lacked are still added
    assert calls.status_label(call) == "Пропущенный"


async def test_while_a_call_goes_on_its_label_says_where_it_is(db):
    ids = await builders.call_center(db)
    await receive(db, ids, cmd="event", type="ACCEPTED", callid="c1")
    assert calls.status_label(await calls.find_call(db, ids["project"], "c1")) == "Разговор"
    assert await calls.find_call(db, ids["project"], "elsewhere") is None


async def test_a_transfer_links_the_second_call_to_the_client(db):
    ids = await builders.call_center(db)
    await receive(
        db, ids, cmd="event", type="TRANSFERRED", callid="c1", direction="in", second_callid="c2"
    )
    second = await calls.find_call(db, ids["project"], "c2")
    assert (second["transferred_from"], second["client_id"]) == ("c1", ids["maria"])
    assert (second["phone"], second["direction"]) == (samples.MARIA, "in")


async def test_employee_names_know_logins_with_and_without_the_domain(db):
    admin = await builders.admin(db)
    await builders.manager(
        db, admin["project_id"], call_method="megafon_api", pbx_user="ivanov@vats1.megapbx.ru"
    )
    names = await calls.employee_names(db, admin["project_id"])
    assert names["ivanov@vats1.megapbx.ru"] == names["ivanov"] == "Иван Петров"
