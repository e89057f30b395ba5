"""What a call webhook writes: the dialog's notifications, which bots match literally, and the
client's `megafon_*` variables."""

import pytest

from core import clients, dialogs, variables
from core.telephony import calls, inbox
from tests.support import builders
from tests.support import megafon as samples

pytestmark = pytest.mark.anyio


async def receive(db, ids, **fields):
    await inbox.receive(db, ids["project"], {"phone": samples.MARIA, "callid": "c1", **fields})


async def dialog_texts(db, ids, client_id=None):
    page = await dialogs.dialog(db, ids["project"], client_id or ids["maria"])
    return [m["text"] for m in page.messages]


async def client_ids(db, ids):
    return [c["id"] for c in (await clients.find_clients(db, ids["project"])).clients]


async def client_variables(db, client_id):
    return {v["name"]: v["value"] for v in await variables.list_variables(db, client_id)}


async def test_events_and_history_write_the_texts_bots_match(db):
    ids = await builders.call_center(db)
    for event_type in ("INCOMING", "ACCEPTED", "TRANSFERRED", "COMPLETED", "CANCELLED"):
        await receive(db, ids, cmd="event", type=event_type, user="ivanov")
    await receive(db, ids, cmd="history", type="in", status="missed")  # lowercase on some accounts
    await receive(db, ids, cmd="rating", rating="4")
    # INCOMING and CANCELLED only ring; a rating writes no message.
    assert await dialog_texts(db, ids) == [
        "megafon_call_event ACCEPTED",
        "megafon_call_event TRANSFERRED",
        "megafon_call_event COMPLETED",
        "megafon_call_status Missed",
        "megafon_missed_opened",  # «Пропущенные» (core/telephony/missed_calls.py)
    ]


async def test_the_call_fills_the_clients_variables(db):
    ids = await builders.call_center(db)
    await receive(db, ids, cmd="event", type="ACCEPTED", direction="in", user="ivanov", ext="701")
    await receive(
        db, ids, cmd="history", type="in", status="Success", link="https://records.example/c1.mp3"
    )
    assert await client_variables(db, ids["maria"]) == {
        "megafon_call_direction": "in",
        "megafon_call_ext": "701",
        "megafon_call_id": "c1",
        "megafon_call_user": "ivanov",
        "megafon_record_link": "https://records.example/c1.mp3",
    }


async def test_an_unknown_caller_becomes_a_client_with_the_notification(db):
    ids = await builders.call_center(db)
    await receive(db, ids, cmd="event", type="ACCEPTED", phone="79035550000")
    [created] = [c for c in await client_ids(db, ids) if c != ids["maria"]]
    assert await dialog_texts(db, ids, created) == ["megafon_call_event ACCEPTED"]


async def test_an_internal_call_touches_no_client(db):
    ids = await builders.call_center(db)
    await receive(db, ids, cmd="event", type="ACCEPTED", phone="701")
    await receive(db, ids, cmd="history", type="in", status="Success", phone="701")
    assert await client_ids(db, ids) == [ids["maria"]]
    assert await dialog_texts(db, ids) == []


async def test_a_call_s_messages_name_their_call_so_the_dialog_shows_them_beside_it(db):
    ids = await builders.call_center(db)
    for event_type in ("INCOMING", "ACCEPTED", "COMPLETED"):
        await receive(db, ids, cmd="event", type=event_type, user="ivanov")
    await receive(db, ids, cmd="history", type="in", status="Success")
    await receive(db, ids, callid="c2", cmd="event", type="ACCEPTED", user="ivanov")
    await dialogs.add_message(
        db, ids["project"], ids["maria"], dialogs.MessageKind.INCOMING, "Перезвоните"
    )
    page = await dialogs.dialog(db, ids["project"], ids["maria"])
    first, second = [await calls.find_call(db, ids["project"], c) for c in ("c1", "c2")]
    assert first and second
    assert [(m["text"], m["call_id"]) for m in page.messages] == [
        ("megafon_call_event ACCEPTED", first["id"]),
        ("megafon_call_event COMPLETED", first["id"]),
        ("megafon_call_status Success", first["id"]),
        ("megafon_call_event ACCEPTED", second["id"]),
        ("Перезвоните", None),
    ]
