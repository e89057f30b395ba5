"""Calls: one record per project and PBX `callid`, gathered from its events and history."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypedDict, cast

import sqlalchemy as sa

from core import events
from core.db import Database, Prepared, prepared
from core.i18n import gettext as _
from core.tables import calls, users
from core.telephony.protocol import CallStatus, Direction, EventType, pbx_login


class Call(TypedDict):
    """A row of `calls`: what the PBX told about one `callid` so far ("" while untold)."""

    id: int
    project_id: int
    callid: str
    client_id: int | None
    phone: str
    direction: str  # a `Direction`, or ""
    pbx_user: str
    ext: str
    telnum: str
    diversion: str
    group_name: str
    last_event: str  # an `EventType`, or ""
    status: str  # a `CallStatus` once history came, else ""
    status_raw: str  # a status the CRM does not know, as sent ("" when `status` is as sent)
    started_at: datetime | None
    duration: int | None
    wait: int | None
    record_link: str
    rating: int | None
    second_callid: str
    transferred_from: str
    incoming_at: datetime | None
    accepted_at: datetime | None
    ended_at: datetime | None
    created_at: datetime
    updated_at: datetime
    popup_topics: str  # the live topics its incoming-call popup went to, space-separated
    restored_at: datetime | None  # when reconciliation first told the CRM something about it


# Outcome fields that only `history` writes; an event arriving after it never touches them.
OUTCOME = ("status", "started_at", "duration", "wait", "record_link")


# Prebuilt once: the webhook path runs these thousands of times a second.
_CALL = prepared(
    calls.select().where(
        calls.c.project_id == sa.bindparam("p_project"), calls.c.callid == sa.bindparam("p_callid")
    )
)


@functools.cache
def _update(columns: tuple[str, ...]) -> Prepared:
    """One prepared UPDATE per set of columns (a handful: one per kind of webhook)."""
    return prepared(
        calls.update()
        .where(calls.c.id == sa.bindparam("p_id"))
        .values({c: sa.bindparam(c) for c in columns})
    )


async def ensure_call(db: Database, project_id: int, callid: str, now: datetime) -> Call:
    """The call with this id, created empty on first mention (safe against a concurrent twin)."""
    key = {"p_project": project_id, "p_callid": callid}
    row = await db.fetch_one(_CALL, key)
    if row is not None:
        return cast(Call, row)
    await db.insert_ignore(
        calls,
        {"project_id": project_id, "callid": callid, "created_at": now, "updated_at": now},
        keys=("project_id", "callid"),
    )
    row = await db.fetch_one(_CALL, key)
    assert row is not None
    return cast(Call, row)


async def find_call(db: Database, project_id: int, callid: str) -> Call | None:
    """The call with this PBX id, if the PBX (or a request of ours) has mentioned it."""
    return cast(
        Call | None, await db.fetch_one(_CALL, {"p_project": project_id, "p_callid": callid})
    )


async def update_call(db: Database, call_id: int, values: Mapping[str, Any]) -> None:
    if values:
        await db.execute(_update(tuple(sorted(values))), {**values, "p_id": call_id})


async def changed(db: Database, project_id: int, client_id: int, call_id: int) -> None:
    """Open cards of the client show the call anew, in place in their dialog."""
    await events.emit_for_client(db, project_id, client_id, events.CALL_UPDATED, call_id=call_id)


# Prepared: an open card reads the staff's names with every call event of its client (web/sse.py).
_CALLS_OF_CLIENT = prepared(
    calls.select()
    .where(calls.c.client_id == sa.bindparam("p_client"))
    .order_by(calls.c.id.desc())
    .limit(sa.bindparam("p_limit"))
)
_STAFF = prepared(
    sa.select(users.c.name, users.c.pbx_user).where(
        users.c.project_id == sa.bindparam("p_project"), users.c.pbx_user.is_not(None)
    )
)


async def calls_of_client(db: Database, client_id: int, limit: int = 50) -> list[Call]:
    """The client's calls, newest first (`employee_names` tells who talked)."""
    rows = await db.fetch_all(_CALLS_OF_CLIENT, {"p_client": client_id, "p_limit": limit})
    return cast(list[Call], rows)


async def employee_names(db: Database, project_id: int) -> dict[str, str]:
    """PBX login, extension or number → employee name, for showing who talked."""
    rows = await db.fetch_all(_STAFF, {"p_project": project_id})
    names = {}
    for row in rows:
        names[row["pbx_user"]] = row["name"]
        # Calls keep the login as webhooks name it: lowercase, without `@domain`.
        names.setdefault(pbx_login(row["pbx_user"]), row["name"])
    return names


def status_label(call: Call) -> str:
    """The call's outcome in words, or where it is now while it is still going on."""
    outcomes: dict[str, str] = {  # the columns hold the enums' values as plain text
        CallStatus.SUCCESS: _("Успешный"),
        CallStatus.MISSED: _("Пропущенный"),
        CallStatus.CANCEL: _("Отменён"),
        CallStatus.BUSY: _("Занято"),
        CallStatus.NOT_AVAILABLE: _("Абонент недоступен"),
        CallStatus.NOT_ALLOWED: _("Направление запрещено"),
        CallStatus.NOT_FOUND: _("Абонент не найден"),
    }
    going_on: dict[str, str] = {
        EventType.INCOMING: _("Звонит"),
        EventType.OUTGOING: _("Набор номера"),
        EventType.ACCEPTED: _("Разговор"),
        EventType.TRANSFERRED: _("Переведён"),
        EventType.COMPLETED: _("Завершён"),
        EventType.CANCELLED: _("Отменён"),
    }
    return outcomes.get(call["status"]) or going_on.get(call["last_event"], "—")


def direction_label(direction: str) -> str:
    labels: dict[str, str] = {Direction.IN: _("Входящий"), Direction.OUT: _("Исходящий")}
    return labels.get(direction, "—")
