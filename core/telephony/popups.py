"""The incoming-call popup: who the PBX is ringing, and when their popup closes.

INCOMING opens a popup for each employee it rings, matched by PBX login, extension or direct
number; when the PBX rings no one we know, every employee of the project sees it. CANCELLED for
one employee of a group call closes only theirs; ACCEPTED, COMPLETED or the call's history close
it everywhere. The topics a popup went to are kept on the call (`calls.popup_topics`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from core import events, phones
from core.db import Database
from core.tables import users
from core.telephony import protocol
from core.telephony.calls import Call
from core.telephony.protocol import Command, EventType, Webhook

CLOSING_EVENTS = (EventType.ACCEPTED, EventType.COMPLETED, EventType.CANCELLED)


async def rung_employees(db: Database, project_id: int, hook: Webhook) -> list[int]:
    """The active employees this webhook names, by PBX login, extension or direct number."""
    names = {
        protocol.pbx_login(hook.user) if hook.user else "",
        hook.ext.strip(),
        phones.from_pbx(hook.telnum) or "",
    } - {""}
    if not names:
        return []
    rows = await db.fetch_all(
        sa.select(users.c.id, users.c.pbx_user).where(
            users.c.project_id == project_id,
            users.c.is_active.is_(True),
            users.c.pbx_user.is_not(None),
        )
    )
    return [
        row["id"]
        for row in rows
        if row["pbx_user"] in names or protocol.pbx_login(row["pbx_user"]) in names
    ]


async def follow(
    db: Database, project_id: int, hook: Webhook, call: Call, client_id: int
) -> dict[str, Any]:
    """Open or close popups for an event webhook; the call's new `popup_topics`, if changed."""
    shown = call["popup_topics"].split()
    if hook.cmd == Command.HISTORY and shown:
        await _close(db, project_id, call, shown)
        return {"popup_topics": ""}
    if hook.cmd != Command.EVENT:
        return {}
    if hook.event_type == EventType.INCOMING and not call["status"]:
        rung = await rung_employees(db, project_id, hook)
        topics = [events.user_topic(project_id, u) for u in rung] or [
            events.managers_topic(project_id)
        ]
        new = [t for t in topics if t not in shown]
        await events.emit_many(
            db,
            project_id,
            new,
            events.CALL_INCOMING,
            {"call_id": call["id"], "client_id": client_id, "phone": hook.phone or call["phone"]},
        )
        return {"popup_topics": " ".join(shown + new)} if new else {}
    if hook.event_type not in CLOSING_EVENTS or not shown:
        return {}
    closing = shown
    if hook.event_type == EventType.CANCELLED:
        # A group call: the employees who did not answer get CANCELLED, one by one.
        rung = await rung_employees(db, project_id, hook)
        mine = [events.user_topic(project_id, u) for u in rung]
        closing = [t for t in shown if t in mine] or shown
    await _close(db, project_id, call, closing)
    return {"popup_topics": " ".join(t for t in shown if t not in closing)}


async def _close(db: Database, project_id: int, call: Call, topics: list[str]) -> None:
    await events.emit_many(db, project_id, topics, events.CALL_ENDED, {"call_id": call["id"]})
