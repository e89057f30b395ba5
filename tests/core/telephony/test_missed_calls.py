"""«Пропущенные» from the webhooks: an unanswered inbound call opens an item or adds an attempt,
an answered call with the client closes it with the time to callback, an employee closes by
hand and reopens; each step is a system message bots match, and a repeat changes nothing."""

import pytest
import sqlalchemy as sa

from core import audit, dialogs
from core.errors import Conflict, ValidationError
from core.tables import missed_calls
from core.telephony import inbox, missed_queue
from core.telephony import missed_calls as missed
from tests.support import builders
from tests.support import megafon as samples

pytestmark = pytest.mark.anyio


async def history(db, ids, callid, direction, status, start, **fields):
    await inbox.receive(
        db,
        ids["project"],
        {
            "cmd": "history",
            "type": direction,
            "status": status,
            "callid": callid,
            "phone": samples.MARIA,
            "start": start,
            **fields,
        },
    )


async def items(db, ids):
    rows = await db.fetch_all(
        missed_calls.select()
        .where(missed_calls.c.project_id == ids["project"])
        .order_by(missed_calls.c.id)
    )
    return [dict(r) for r in rows]


async def dialog_texts(db, ids):
    page = await dialogs.dialog(db, ids["project"], ids["maria"])
    return [m["text"] for m in page.messages]


@pytest.mark.parametrize("status", ["Missed", "Cancel", "Busy", "NotAvailable", "no_answer"])
async def test_an_unanswered_inbound_call_opens_an_item(db, status):
    ids = await builders.call_center(db)
    await history(db, ids, "c1", "in", status, "20240315T100200Z")
    [item] = await items(db, ids)
    assert (item["client_id"], item["attempts"], item["closed_at"]) == (ids["maria"], 1, None)
    assert item["opened_at"].strftime("%H:%M") == "10:02"
    assert item["phone"] == samples.MARIA
    assert (await dialog_texts(db, ids))[-1] == "megafon_missed_opened"
    assert await missed_queue.open_count(db, ids["project"]) == 1


async def test_unanswered_outbound_and_answered_calls_open_nothing(db):
    ids = await builders.call_center(db)
    await history(db, ids, "c1", "out", "Busy", "20240315T100200Z")
    await history(db, ids, "c2", "in", "Success", "20240315T100500Z")
    assert await items(db, ids) == []


async def test_a_second_missed_call_is_an_attempt_and_keeps_the_first_time(db):
    ids = await builders.call_center(db)
    await history(db, ids, "c1", "in", "Missed", "20240315T100200Z")
    await history(db, ids, "c2", "in", "Missed", "20240315T101500Z")
    [item] = await items(db, ids)
    assert item["attempts"] == 2
    assert item["opened_at"].strftime("%H:%M") == "10:02"
    assert item["last_attempt_at"].strftime("%H:%M") == "10:15"
    assert (await dialog_texts(db, ids)).count("megafon_missed_opened") == 1


async def test_a_repeated_or_rerun_history_adds_no_attempt(db):
    ids = await builders.call_center(db)
    await history(db, ids, "c1", "in", "Missed", "20240315T100200Z")
    await history(db, ids, "c1", "in", "Missed", "20240315T100200Z")  # the same delivery again
    await history(db, ids, "c1", "in", "Missed", "20240315T100200Z", duration="0")  # a new one
    [item] = await items(db, ids)
    assert item["attempts"] == 1


async def test_an_answered_outbound_call_closes_it_with_who_and_how_fast(db):
    ids = await builders.call_center(db)
    await history(db, ids, "c1", "in", "Missed", "20240315T100200Z")
    await history(db, ids, "c2", "out", "Busy", "20240315T100500Z", user="ivanov")
    assert (await items(db, ids))[0]["closed_at"] is None  # not reached yet
    await history(db, ids, "c3", "out", "Success", "20240315T101000Z", user="ivanov", wait="12")
    [item] = await items(db, ids)
    assert item["close_kind"] == "outbound"
    assert item["closed_by_pbx_user"] == "ivanov"
    assert item["callback_seconds"] == 8 * 60 + 12
    texts = await dialog_texts(db, ids)
    assert texts[-2:] == ["megafon_call_status Success", "megafon_missed_closed outbound"]
    assert await missed_queue.open_count(db, ids["project"]) == 0
    # The closing call's history once more closes nothing again
    await history(db, ids, "c3", "out", "Success", "20240315T101000Z", user="ivanov", wait="13")
    assert (await dialog_texts(db, ids)).count("megafon_missed_closed outbound") == 1


async def test_the_client_calling_back_and_answered_closes_it_inbound(db):
    ids = await builders.call_center(db)
    await history(db, ids, "c1", "in", "Missed", "20240315T100200Z")
    await history(db, ids, "c2", "in", "Success", "20240315T100400Z", user="petrov")
    [item] = await items(db, ids)
    assert (item["close_kind"], item["closed_by_pbx_user"]) == ("inbound", "petrov")
    assert item["callback_seconds"] == 120
    # A new missed call after that is a new item
    await history(db, ids, "c3", "in", "Missed", "20240315T110000Z")
    assert [i["closed_at"] is None for i in await items(db, ids)] == [False, True]


async def test_an_answered_call_from_before_the_missed_one_closes_nothing(db):
    ids = await builders.call_center(db)
    await history(db, ids, "c2", "in", "Missed", "20240315T100200Z")
    await history(db, ids, "c1", "out", "Success", "20240315T090000Z")  # arrived late
    assert (await items(db, ids))[0]["closed_at"] is None


async def test_an_employee_closes_by_hand_with_a_reason_and_can_reopen(db):
    ids = await builders.call_center(db)
    anna = await builders.manager(db, ids["project"], name="Ольга", email="olga@romashka.ru")
    await history(db, ids, "c1", "in", "Missed", "20240315T100200Z")
    [item] = await items(db, ids)
    with pytest.raises(ValidationError) as no_text:
        await missed.close_by_hand(db, ids["project"], item["id"], anna["id"], "other", "  ")
    assert "note" in no_text.value.errors
    with pytest.raises(ValidationError):
        await missed.close_by_hand(db, ids["project"], item["id"], anna["id"], "bogus")
    closed = await missed.close_by_hand(
        db, ids["project"], item["id"], anna["id"], "other", "перезвонит сам"
    )
    assert (closed["close_kind"], closed["closed_by_user_id"]) == ("manual", anna["id"])
    assert missed.reason_label(closed["close_reason"]) == "Другое: перезвонит сам"
    assert closed["callback_seconds"] is None
    with pytest.raises(Conflict):
        await missed.close_by_hand(db, ids["project"], item["id"], anna["id"], "not_reached")

    reopened = await missed.reopen(db, ids["project"], item["id"])
    assert reopened["closed_at"] is None and reopened["close_kind"] == ""
    assert reopened["attempts"] == 1
    assert (await dialog_texts(db, ids))[-3:] == [
        "megafon_missed_opened",
        "megafon_missed_closed manual",
        "megafon_missed_reopened",
    ]
    with pytest.raises(Conflict):
        await missed.reopen(db, ids["project"], item["id"])


async def test_reopening_is_refused_while_a_newer_item_is_open(db):
    ids = await builders.call_center(db)
    await history(db, ids, "c1", "in", "Missed", "20240315T100200Z")
    await history(db, ids, "c2", "in", "Success", "20240315T100400Z")
    await history(db, ids, "c3", "in", "Missed", "20240315T110000Z")
    first = (await items(db, ids))[0]
    with pytest.raises(Conflict):
        await missed.reopen(db, ids["project"], first["id"])


async def test_the_queue_lists_the_longest_waiting_first_and_the_closed_ones_page(db):
    ids = await builders.call_center(db)
    other = await builders.client(db, ids["project"], name="Пётр", phone="+7 903 123-45-67")
    petr = {"phone": "79031234567"}
    await history(db, ids, "c1", "in", "Missed", "20240315T100200Z")
    await history(db, ids, "c2", "in", "Missed", "20240315T090000Z", **petr)
    found = await missed_queue.queue(db, ids["project"])
    assert [r["client_id"] for r in found] == [other["id"], ids["maria"]]
    assert [r["client_name"] for r in found] == ["Пётр", "Мария Иванова"]
    assert [r["calling_back"] for r in found] == ["", ""]
    await history(db, ids, "c3", "in", "Success", "20240315T120000Z")
    await history(db, ids, "c4", "in", "Success", "20240315T121000Z", **petr)
    first, more = await missed_queue.closed(db, ids["project"], limit=1)
    assert [r["client_id"] for r in first] == [other["id"]]  # closed last, at 12:10
    second, done = await missed_queue.closed(db, ids["project"], before=more, limit=1)
    assert [r["client_id"] for r in second] == [ids["maria"]] and done is None


async def test_thresholds_have_defaults_are_checked_and_journaled(db):
    ids = await builders.call_center(db)
    who = audit.Actor(user_id=None, address="127.0.0.1")
    assert await missed_queue.thresholds(db, ids["project"]) == missed_queue.Thresholds(15, 60)
    for warn, alert, field in [("abc", "60", "warn"), ("30", "30", "alert"), ("0", "5", "warn")]:
        with pytest.raises(ValidationError) as bad:
            await missed_queue.save_thresholds(db, ids["project"], who, warn, alert)
        assert field in bad.value.errors
    await missed_queue.save_thresholds(db, ids["project"], who, " 10 ", "45")
    assert await missed_queue.thresholds(db, ids["project"]) == missed_queue.Thresholds(10, 45)
    entries, _ = await audit.journal(db, ids["project"], action="missed_thresholds_changed")
    assert entries[0]["details"] == {"old": [15, 60], "new": [10, 45]}


async def test_an_item_counts_only_in_its_project(db):
    ids = await builders.call_center(db)
    await history(db, ids, "c1", "in", "Missed", "20240315T100200Z")
    elsewhere = await builders.admin(db, project="Лютик", email="boss@lutik.ru")
    assert await missed_queue.open_count(db, elsewhere["project_id"]) == 0
    assert await db.fetch_val(sa.select(sa.func.count()).select_from(missed_calls)) == 1


async def test_the_queue_shows_who_is_calling_the_client_back(db):
    ids = await builders.call_center(db)
    await history(db, ids, "c1", "in", "Missed", "20240315T100200Z")
    outgoing = {"cmd": "event", "type": "OUTGOING", "direction": "out", "user": "ivanov"}
    await inbox.receive(db, ids["project"], {**outgoing, "callid": "c2", "phone": samples.MARIA})
    [item] = await missed_queue.queue(db, ids["project"])
    assert item["calling_back"] == "Иван Петров"
    await history(db, ids, "c2", "out", "NotAvailable", "20240315T100500Z", user="ivanov")
    [item] = await missed_queue.queue(db, ids["project"])
    assert item["calling_back"] == ""
