"""Receiving the PBX's webhooks: each one journaled, applied once, a failure kept for a re-run."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from core import clock, dialogs
from core.errors import NotFound, StorageUnavailable
from core.tables import webhook_deliveries, webhook_effects
from core.telephony import inbox, notifications
from core.telephony.protocol import InvalidWebhook
from tests.support import builders
from tests.support import megafon as samples

pytestmark = pytest.mark.anyio

ACCEPTED = {"cmd": "event", "type": "ACCEPTED", "callid": "c1", "phone": samples.MARIA}


async def texts(db, ids):
    page = await dialogs.dialog(db, ids["project"], ids["maria"])
    return [m["text"] for m in page.messages]


async def test_a_webhook_is_journaled_and_applied(db):
    ids = await builders.call_center(db)
    receipt = await inbox.receive(db, ids["project"], {**ACCEPTED, "crm_token": ids["key"]})
    assert (receipt.result, receipt.answer) == ("ok", {"status": "ok"})
    assert await texts(db, ids) == ["megafon_call_event ACCEPTED"]
    [delivery], _ = await inbox.journal(db, ids["project"])
    assert delivery["id"] == receipt.delivery_id
    assert (delivery["cmd"], delivery["event_type"], delivery["callid"]) == (
        "event",
        "ACCEPTED",
        "c1",
    )
    assert delivery["fields"] == ACCEPTED  # everything as sent, but not the token
    assert delivery["result"] == "ok" and delivery["processed_at"] is not None


async def test_a_repeated_delivery_changes_nothing_and_is_journaled_as_a_repeat(db):
    ids = await builders.call_center(db)
    await inbox.receive(db, ids["project"], ACCEPTED)
    again = await inbox.receive(db, ids["project"], ACCEPTED)
    assert (again.result, again.answer) == ("duplicate", {"status": "ok"})
    assert await texts(db, ids) == ["megafon_call_event ACCEPTED"]
    results = [d["result"] for d in (await inbox.journal(db, ids["project"]))[0]]
    assert results == ["duplicate", "ok"]  # newest first


async def test_a_webhook_that_cannot_be_read_is_journaled_as_rejected(db):
    ids = await builders.call_center(db)
    with pytest.raises(InvalidWebhook):
        await inbox.receive(db, ids["project"], {"cmd": "event", "callid": "c1"})
    [delivery], _ = await inbox.journal(db, ids["project"])
    assert delivery["result"] == "rejected" and "type" in delivery["error"]
    assert await texts(db, ids) == []


async def test_who_is_calling_is_answered_and_journaled(db):
    ids = await builders.call_center(db)
    receipt = await inbox.receive(db, ids["project"], {"cmd": "contact", "phone": samples.MARIA})
    assert receipt.answer == {"contact_name": "Мария Иванова"}
    [delivery], _ = await inbox.journal(db, ids["project"])
    assert (delivery["cmd"], delivery["result"]) == ("contact", "ok")


async def test_the_journal_pages_and_filters_by_result_within_its_project(db):
    ids = await builders.call_center(db)
    other = await builders.admin(db, project="Лютик")
    for n in range(3):
        await inbox.receive(db, ids["project"], {**ACCEPTED, "callid": f"c{n}"})
    await inbox.receive(db, ids["project"], {**ACCEPTED, "callid": "c0"})
    await inbox.receive(db, other["project_id"], ACCEPTED)

    first, more = await inbox.journal(db, ids["project"], limit=3)
    rest, end = await inbox.journal(db, ids["project"], before=more, limit=3)
    assert [d["callid"] for d in first + rest] == ["c0", "c2", "c1", "c0"]
    assert end is None
    repeats, _ = await inbox.journal(db, ids["project"], result="duplicate")
    assert [d["callid"] for d in repeats] == ["c0"]
    everything, _ = await inbox.journal(db, ids["project"], result="not-a-result")
    assert len(everything) == 4


async def test_only_a_failed_delivery_can_be_run_again(db):
    ids = await builders.call_center(db)
    receipt = await inbox.receive(db, ids["project"], ACCEPTED)
    with pytest.raises(NotFound):
        await inbox.rerun(db, ids["project"], receipt.delivery_id)


async def test_a_database_that_cannot_write_fails_the_whole_delivery_not_as_its_error(
    db, monkeypatch
):
    """Not the webhook's failure, kept for a re-run, but the storage's: the delivery is not
    stored and the caller answers 503, which the PBX retries."""
    ids = await builders.call_center(db)

    async def disk_full(*args, **kwargs):
        raise StorageUnavailable("на диске кончилось место")

    monkeypatch.setattr(notifications, "apply", disk_full)
    with pytest.raises(StorageUnavailable):
        await inbox.receive(db, ids["project"], ACCEPTED)
    assert await journaled_callids(db, ids["project"]) == []


async def deliver(db, ids, count):
    for n in range(count):
        await inbox.receive(db, ids["project"], {**ACCEPTED, "callid": f"c{n}"})


async def journaled_callids(db, project):
    rows, _ = await inbox.journal(db, project, limit=100)
    return [row["callid"] for row in rows]


async def test_the_journal_forgets_deliveries_older_than_its_days(db):
    ids = await builders.call_center(db)
    await deliver(db, ids, 3)
    await db.execute(
        webhook_deliveries.update()
        .where(webhook_deliveries.c.callid.in_(["c0", "c1"]))
        .values(received_at=clock.now() - timedelta(days=91))
    )
    assert await inbox.purge(db, ids["project"], keep_days=90, keep_rows=1000, batch=1) == 1
    assert await inbox.purge_journal(db, keep_days=90, keep_rows=1000, pause=0) == 1
    assert await journaled_callids(db, ids["project"]) == ["c2"]
    # The kept delivery still deduplicates its repeats.
    repeat = await inbox.receive(db, ids["project"], {**ACCEPTED, "callid": "c2"})
    assert repeat.result == inbox.DeliveryResult.DUPLICATE
    [effect] = await db.fetch_all(sa.select(webhook_effects.c.key))
    assert "c2" in effect["key"]  # the forgotten deliveries' keys went with them


async def test_the_journal_keeps_at_most_its_cap_per_project_and_dedup_still_holds(db):
    ids = await builders.call_center(db)
    other = await builders.admin(db, project="Лютик", email="boss@lutik.ru")
    await deliver(db, ids, 5)
    await inbox.receive(db, other["project_id"], {**ACCEPTED, "type": "INCOMING"})
    assert await inbox.purge_journal(db, keep_days=90, keep_rows=2, pause=0) == 3
    assert await journaled_callids(db, ids["project"]) == ["c4", "c3"]
    assert len(await journaled_callids(db, other["project_id"])) == 1
    # A recent delivery that the cap forgot is still a repeat when the PBX sends it again.
    repeat = await inbox.receive(db, ids["project"], {**ACCEPTED, "callid": "c0"})
    assert repeat.result == inbox.DeliveryResult.DUPLICATE
    assert await texts(db, ids) == ["megafon_call_event ACCEPTED"] * 5
