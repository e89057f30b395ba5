"""The live event log: written with the transaction that makes the change, announced after
its commit, read back by topic in order."""

import pytest

from core import events
from core.telephony import notifications, protocol
from tests.support import builders

pytestmark = pytest.mark.anyio


async def test_topics_are_announced_after_the_commit_and_never_for_a_rollback(db):
    heard: list[set[str]] = []
    db.after_commit = heard.append
    async with db.transaction():
        await events.emit(db, 1, "1:client:5", events.CALL_UPDATED, {"client_id": 5})
        assert heard == []  # not before the commit
    assert heard == [{"1:client:5"}]
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await events.emit(db, 1, "1:client:6", events.CALL_UPDATED, {"client_id": 6})
            raise RuntimeError("boom")
    assert heard == [{"1:client:5"}]
    assert [e.topic for e in await events.since(db, ["1:client:5", "1:client:6"], 0)] == [
        "1:client:5"
    ]


async def test_what_a_rolled_back_savepoint_emitted_is_not_written(db):
    async with db.transaction():
        await events.emit(db, 1, "1:managers", events.CALL_INCOMING, {"call_id": 1})
        with pytest.raises(RuntimeError):
            async with db.savepoint():
                await events.emit(db, 1, "1:managers", events.CALL_INCOMING, {"call_id": 2})
                raise RuntimeError("a webhook that failed")
        await events.emit(db, 1, "1:managers", events.CALL_ENDED, {"call_id": 1})
    got = await events.since(db, ["1:managers"], 0)
    assert [(e.name, e.data["call_id"]) for e in got] == [
        (events.CALL_INCOMING, 1),
        (events.CALL_ENDED, 1),
    ]
    assert got[0].id < got[1].id


async def test_a_stream_reads_its_own_topics_after_its_cursor(db):
    for client_id in (1, 2, 1):
        await events.emit(
            db, 7, events.client_topic(7, client_id), events.VARIABLES_CHANGED, {"client_id": 1}
        )
    await events.emit(db, 7, events.user_topic(7, 3), events.CALL_ENDED, {"call_id": 9})
    mine = events.page_topics(7, 3, client_id=1)
    everything = await events.since(db, mine, 0)
    assert [e.topic for e in everything] == ["7:client:1", "7:client:1", "7:user:3"]
    assert await events.since(db, mine, everything[1].id) == everything[2:]
    assert [e.topic for e in events.coalesce(everything)] == ["7:client:1", "7:user:3"]
    assert await events.latest_id(db) == everything[-1].id


async def test_a_call_webhook_tells_the_client_s_open_cards(db):
    admin = await builders.admin(db)
    project = admin["project_id"]
    client = await builders.client(db, project, phone="+7 926 555-01-01")
    hook = protocol.parse(
        {"cmd": "event", "type": "ACCEPTED", "callid": "c1", "phone": "79265550101"}
    )
    async with db.transaction():
        await notifications.apply(db, project, hook, events.clock.now())
    names = [
        e.name for e in await events.since(db, [events.client_topic(project, client["id"])], 0)
    ]
    assert names == [events.CALL_UPDATED, events.VARIABLES_CHANGED, events.MESSAGE_CREATED]


def test_a_batch_shows_each_call_once_in_its_latest_state():
    def event(n, name, **data):
        return events.Event(n, "7:client:1", name, data, events.clock.now())

    batch = [
        event(1, events.CALL_UPDATED, call_id=5),
        event(2, events.MESSAGE_CREATED, message_id=10, call_id=5),  # shown inside call 5
        event(3, events.CALL_UPDATED, call_id=6),
        event(4, events.MESSAGE_CREATED, message_id=11),  # a note
        event(5, events.CALL_UPDATED, call_id=5),
        event(6, events.MESSAGE_CREATED, message_id=12),
    ]
    assert [e.id for e in events.coalesce(batch)] == [3, 4, 5, 6]
