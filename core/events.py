"""Live events: what open pages should show, logged so that nothing is missed.

A change that an open page cares about is `emit`ted in the transaction that makes it: a row in
`live_events` (its id is the SSE event id) and an announcement of its topic after the commit
(`Database.announce`, carried to every process by `core.live`). A page's stream reads its topics
`since` the id it last saw, so a dropped connection, a restart or another process loses nothing.

Topics: `<project>:client:<id>` (an open client card), `<project>:user:<id>` (one employee's
popups) and `<project>:managers` (popups for everyone, when the PBX rang no one we know).
Names are `noun.verb`: `message.created`, `variables.changed`, `call.updated`, `call.incoming`,
`call.ended`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from core import clock
from core.db import Database, prepared
from core.tables import live_events

MESSAGE_CREATED = "message.created"
VARIABLES_CHANGED = "variables.changed"
CALL_UPDATED = "call.updated"
CALL_INCOMING = "call.incoming"
CALL_ENDED = "call.ended"

# Events that describe a state (the card re-reads it): only the latest of a batch matters
# (of each call, for `call.updated`).
STATE_EVENTS = (VARIABLES_CHANGED, CALL_UPDATED)
KEPT_FOR = timedelta(days=2)  # a page away longer than this reloads instead of replaying
MAX_TOPICS = 3


def client_topic(project_id: int, client_id: int) -> str:
    return f"{project_id}:client:{client_id}"


def user_topic(project_id: int, user_id: int) -> str:
    return f"{project_id}:user:{user_id}"


def managers_topic(project_id: int) -> str:
    return f"{project_id}:managers"


def page_topics(project_id: int, user_id: int, client_id: int | None = None) -> tuple[str, ...]:
    """What one open page follows: the employee's popups, and the client card it shows."""
    topics = (user_topic(project_id, user_id), managers_topic(project_id))
    return (*topics, client_topic(project_id, client_id)) if client_id else topics


@dataclass(frozen=True)
class Event:
    id: int
    topic: str
    name: str
    data: Mapping[str, Any]
    created_at: datetime


_INSERT = prepared(
    live_events.insert().values(
        {c: sa.bindparam(c) for c in ("project_id", "topic", "name", "data", "created_at")}
    )
)
_SINCE = prepared(
    live_events.select()
    .where(
        sa.or_(*(live_events.c.topic == sa.bindparam(f"t{i}") for i in range(MAX_TOPICS))),
        live_events.c.id > sa.bindparam("after"),
    )
    .order_by(live_events.c.id)
    .limit(sa.bindparam("limit"))
)
_LATEST = prepared(sa.select(sa.func.max(live_events.c.id)))
_EXISTS = prepared(sa.select(live_events.c.id).where(live_events.c.id == sa.bindparam("id")))


async def emit(
    db: Database, project_id: int, topic: str, name: str, data: Mapping[str, Any]
) -> None:
    """Log an event with the current transaction; streams hear of it after the commit."""
    async with db.transaction():
        db.before_commit("live_events", lambda rows: _insert(db, rows)).append(
            {
                "project_id": project_id,
                "topic": topic,
                "name": name,
                "data": json.dumps(data, ensure_ascii=False, separators=(",", ":")),
                "created_at": clock.now(),
            }
        )
        db.announce(topic)


async def _insert(db: Database, rows: list[dict[str, Any]]) -> None:
    """The transaction's events, written just before its commit. PostgreSQL: under a lock per
    project, held from here to the commit, so that a project's events commit in id order and
    a stream that has read up to an id never sees an older one appear later (SQLite has one
    writer anyway). Written last, they hold that lock for as short a time as can be."""
    for project_id in sorted({row["project_id"] for row in rows}):
        await db.lock(f"live:{project_id}")
    await db.execute_many(_INSERT, rows)


async def emit_for_client(
    db: Database, project_id: int, client_id: int, name: str, **data: Any
) -> None:
    """An event for the open cards of one client (`client_id` is always in its data)."""
    await emit(
        db, project_id, client_topic(project_id, client_id), name, {**data, "client_id": client_id}
    )


async def emit_many(
    db: Database, project_id: int, topics: Iterable[str], name: str, data: Mapping[str, Any]
) -> None:
    for topic in topics:
        await emit(db, project_id, topic, name, data)


async def since(db: Database, topics: Sequence[str], after: int, limit: int = 500) -> list[Event]:
    """The topics' events after `after`, oldest first, at most `limit`."""
    if not 0 < len(topics) <= MAX_TOPICS:
        raise ValueError(f"a stream follows 1 to {MAX_TOPICS} topics")
    slots = {f"t{i}": topics[min(i, len(topics) - 1)] for i in range(MAX_TOPICS)}
    rows = await db.fetch_all(_SINCE, {**slots, "after": after, "limit": limit})
    return [
        Event(r["id"], r["topic"], r["name"], json.loads(r["data"]), r["created_at"]) for r in rows
    ]


async def latest_id(db: Database) -> int:
    """The newest event id: a page rendered now has seen everything up to it."""
    return await db.fetch_val(_LATEST) or 0


async def can_replay(db: Database, after: int) -> bool:
    """Whether the log still holds event `after`, so that everything later is there too
    (events are kept for 2 days). An id it never held (a database restored or replaced since
    the page was read) cannot be replayed either."""
    return after <= 0 or await db.fetch_val(_EXISTS, {"id": after}) is not None


async def purge(db: Database, now: datetime | None = None) -> None:
    """Forget events older than `KEPT_FOR`."""
    horizon = (now or clock.now()) - KEPT_FOR
    await db.execute(live_events.delete().where(live_events.c.created_at < horizon))


def _state(event: Event) -> tuple[str, str, object] | None:
    """What state an event shows, if it shows one: a later event of the same state supersedes
    it. A call's own message shows its call (the dialog's call item), as its update does."""
    if event.name == CALL_UPDATED or (
        event.name == MESSAGE_CREATED and event.data.get("call_id") is not None
    ):
        return (event.topic, CALL_UPDATED, event.data.get("call_id"))
    if event.name in STATE_EVENTS:
        return (event.topic, event.name, None)
    return None


def coalesce(batch: Sequence[Event]) -> list[Event]:
    """The batch without state events that a later one of the same state supersedes."""
    states = [_state(event) for event in batch]
    last = {state: index for index, state in enumerate(states) if state is not None}
    return [
        event
        for index, (event, state) in enumerate(zip(batch, states, strict=True))
        if state is None or last[state] == index
    ]


async def open_popups(db: Database, topics: Sequence[str], within: timedelta) -> list[Event]:
    """`call.incoming` events of the topics, in the last `within`, whose call has not ended."""
    horizon = clock.now() - within
    rows = await db.fetch_all(
        live_events.select()
        .where(
            live_events.c.topic.in_(list(topics)),
            live_events.c.name.in_([CALL_INCOMING, CALL_ENDED]),
            live_events.c.created_at >= horizon,
        )
        .order_by(live_events.c.id)
    )
    ringing: dict[int, Event] = {}
    for r in rows:
        event = Event(r["id"], r["topic"], r["name"], json.loads(r["data"]), r["created_at"])
        if event.name == CALL_INCOMING:
            ringing[event.data["call_id"]] = event
        else:
            ringing.pop(event.data["call_id"], None)
    return list(ringing.values())
