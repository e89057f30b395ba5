"""A call is one living item in the client's dialog: shown once, at its first message, with
the `megafon_call_*` messages it wrote beside it, ringing → talking → ended."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

import sqlalchemy as sa

from core import dialogs
from core.db import Database, prepared
from core.dialogs import Message
from core.tables import calls, recordings
from core.telephony.calls import Call
from core.telephony.protocol import EventType


class Stage(StrEnum):
    """Where a call is, as a chat app shows it."""

    RINGING = "ringing"
    TALKING = "talking"
    ENDED = "ended"


RINGING_WITHIN = timedelta(minutes=10)  # no ringing lasts longer: a call never ended stops showing
_TALKING = (EventType.ACCEPTED.value, EventType.TRANSFERRED.value)
_ENDED = (EventType.COMPLETED.value, EventType.CANCELLED.value)


def stage(call: Call) -> Stage:
    """History, or the end of the call, ends it; an answer makes it a conversation."""
    if call["status"] or call["last_event"] in _ENDED:
        return Stage.ENDED
    if call["last_event"] in _TALKING:
        return Stage.TALKING
    return Stage.RINGING


@dataclass
class CallItem:
    """A call as the dialog shows it: the call and its messages (oldest first)."""

    call: Call
    messages: list[Message] = field(default_factory=list)

    @property
    def stage(self) -> Stage:
        return stage(self.call)


def _with_recording() -> sa.Select[Any]:
    """Calls with their recording's state (`recording_state`, `recording_error`: None when
    the CRM keeps no copy): the player plays the CRM's copy or says why it cannot."""
    return sa.select(
        calls,
        recordings.c.state.label("recording_state"),
        recordings.c.last_error.label("recording_error"),
    ).select_from(calls.outerjoin(recordings, recordings.c.call_id == calls.c.id))


_CALL = prepared(
    _with_recording().where(
        calls.c.id == sa.bindparam("p_id"), calls.c.project_id == sa.bindparam("p_project")
    )
)


async def call_items(db: Database, project_id: int, page: Sequence[Message]) -> dict[int, CallItem]:
    """The calls of a dialog page's messages (one query), each with its messages on the page;
    a message whose call is not found is shown as a plain message."""
    ids = sorted({m["call_id"] for m in page if m["call_id"] is not None})
    if not ids:
        return {}
    rows = await db.fetch_all(
        _with_recording().where(calls.c.project_id == project_id, calls.c.id.in_(ids))
    )
    items = {row["id"]: CallItem(cast(Call, row)) for row in rows}
    for message in page:
        item = items.get(message["call_id"]) if message["call_id"] is not None else None
        if item is not None:
            item.messages.append(message)
    return items


# The client's newest calls (their index): a call that rings now is among them.
_NEWEST_OF_CLIENT = prepared(
    calls.select()
    .where(calls.c.client_id == sa.bindparam("p_client"))
    .order_by(calls.c.id.desc())
    .limit(3)
)


async def ringing(
    db: Database, client_id: int, shown: dict[int, CallItem], now: datetime
) -> list[CallItem]:
    """Calls of the client that ring now and have written no message yet (the PBX writes none
    for INCOMING), oldest first: the dialog shows them at its end, where they happen."""
    rows = await db.fetch_all(_NEWEST_OF_CLIENT, {"p_client": client_id})
    found = [
        CallItem(call)
        for call in cast(list[Call], rows)
        if call["id"] not in shown
        and stage(call) == Stage.RINGING
        and call["created_at"] >= now - RINGING_WITHIN
    ]
    return found[::-1]


async def call_item(db: Database, project_id: int, call_id: int) -> CallItem | None:
    """One call with all its messages, for the live update of an open card."""
    row = await db.fetch_one(_CALL, {"p_id": call_id, "p_project": project_id})
    if row is None:
        return None
    call = cast(Call, row)
    if call["client_id"] is None:
        return CallItem(call)
    return CallItem(call, await dialogs.messages_of_call(db, call["client_id"], call_id))
