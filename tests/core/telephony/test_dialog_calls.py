"""A call as one item of the dialog: its stage, the calls of a dialog page fetched together with
their messages, and the call that rings before it has written anything."""

import pytest

from core import clock, dialogs
from core.telephony import dialog_calls, inbox
from core.telephony.dialog_calls import Stage
from tests.support import builders
from tests.support import megafon as samples

pytestmark = pytest.mark.anyio


async def receive(db, ids, callid, **fields):
    await inbox.receive(db, ids["project"], {"phone": samples.MARIA, "callid": callid, **fields})


async def page_items(db, ids):
    page = await dialogs.dialog(db, ids["project"], ids["maria"])
    items = await dialog_calls.call_items(db, ids["project"], page.messages)
    return page, items


async def test_the_calls_of_a_page_come_with_their_messages_and_stage(db):
    ids = await builders.call_center(db)
    for event_type in ("INCOMING", "ACCEPTED", "COMPLETED"):
        await receive(db, ids, "c1", cmd="event", type=event_type, user="ivanov")
    await receive(db, ids, "c1", cmd="history", type="in", status="Success")
    await receive(db, ids, "c2", cmd="event", type="ACCEPTED", user="ivanov")
    page, items = await page_items(db, ids)
    first, second = sorted(items.values(), key=lambda item: item.call["id"])
    assert (first.call["callid"], first.stage) == ("c1", Stage.ENDED)
    assert [m["text"] for m in first.messages] == [
        "megafon_call_event ACCEPTED",
        "megafon_call_event COMPLETED",
        "megafon_call_status Success",
    ]
    assert (second.call["callid"], second.stage) == ("c2", Stage.TALKING)
    assert [m["id"] for m in second.messages] == [page.messages[-1]["id"]]

    live = await dialog_calls.call_item(db, ids["project"], first.call["id"])
    assert live is not None and live.messages == first.messages
    assert await dialog_calls.call_item(db, ids["project"] + 1, first.call["id"]) is None


async def test_a_call_that_rings_is_shown_before_it_writes_a_message(db):
    ids = await builders.call_center(db)
    await receive(db, ids, "c1", cmd="event", type="INCOMING", user="ivanov")
    _, items = await page_items(db, ids)
    assert items == {}
    [ringing] = await dialog_calls.ringing(db, ids["maria"], items, clock.now())
    assert (ringing.call["callid"], ringing.stage, ringing.messages) == ("c1", Stage.RINGING, [])
    later = clock.now() + dialog_calls.RINGING_WITHIN * 2  # the PBX never said it ended
    assert await dialog_calls.ringing(db, ids["maria"], items, later) == []

    await receive(db, ids, "c1", cmd="event", type="CANCELLED", user="ivanov")
    assert await dialog_calls.ringing(db, ids["maria"], items, clock.now()) == []
