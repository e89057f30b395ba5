"""What a call webhook does to the CRM: the call record, dialog notifications, client variables.

The notification texts are a public contract that bots match literally:
`megafon_call_event <TYPE>` and `megafon_call_status <Status>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from core import dialogs, matching, variables
from core.db import Database
from core.telephony import call_journal, calls, missed_calls, popups
from core.telephony.calls import Call
from core.telephony.protocol import CallStatus, Command, Direction, EventType, Webhook

# INCOMING and CANCELLED only drive the incoming-call popup; they write nothing to the dialog.
DIALOG_EVENTS = (
    EventType.ACCEPTED,
    EventType.COMPLETED,
    EventType.OUTGOING,
    EventType.TRANSFERRED,
)


def event_text(event_type: EventType) -> str:
    return f"megafon_call_event {event_type}"


def status_text(status: CallStatus) -> str:
    return f"megafon_call_status {status}"


WIDTHS = {"phone": 40, "direction": 3, "ext": 40, "telnum": 40, "diversion": 40}  # column sizes


def _identity(hook: Webhook) -> dict[str, Any]:
    """The fields every webhook may tell about its call; blanks never erase what is known."""
    values = {
        "phone": hook.phone,
        "direction": hook.direction or "",
        "pbx_user": hook.user,
        "ext": hook.ext,
        "telnum": hook.telnum,
        "diversion": hook.diversion,
        "group_name": hook.group_name,
    }
    # Slicing also turns an enum member into the plain text the driver binds fastest.
    return {k: v[: WIDTHS.get(k, 200)] for k, v in values.items() if v}


def _call_variables(hook: Webhook, call: Call) -> dict[str, str]:
    values = {
        "megafon_call_direction": hook.direction or call["direction"],
        "megafon_call_ext": hook.ext or call["ext"],
        "megafon_call_id": hook.callid,
        "megafon_call_user": hook.user or call["pbx_user"],
        "megafon_record_link": hook.link,
    }
    return {k: v for k, v in values.items() if v}


async def apply(
    db: Database, project_id: int, hook: Webhook, now: datetime, *, origin: str = ""
) -> None:
    """Apply an event, history or rating webhook (inside the caller's transaction).

    `origin` (`inbox.Origin`): `pbx_history` when reconciliation restored it from the PBX's
    history: the call's `restored_at` is set the first time, its status message is marked."""
    call = await calls.ensure_call(db, project_id, hook.callid, now)
    client_id = call["client_id"]
    if client_id is None and hook.phone:
        client_id = await matching.match_or_create(db, project_id, hook.phone)
    final = bool(call["status"])
    values: dict[str, Any] = {**_identity(hook), "client_id": client_id, "updated_at": now}
    if final:  # history has spoken: later deliveries may add details, never change the outcome
        known: Mapping[str, object] = call
        values = {k: v for k, v in values.items() if not known[k] or k in ("updated_at",)}
    text = None
    if hook.cmd == Command.EVENT:
        assert hook.event_type is not None  # `parse` requires it
        values.update(_event_values(hook, hook.event_type, call, now, final))
        if hook.event_type in DIALOG_EVENTS:
            text = event_text(hook.event_type)
    elif hook.cmd == Command.HISTORY:
        assert hook.status is not None and hook.direction is not None  # `parse` requires them
        values.update(_history_values(hook, hook.status, hook.direction, call, now))
        text = status_text(hook.status)
    elif hook.cmd == Command.RATING:
        values["rating"] = hook.rating
    if origin and call["restored_at"] is None:
        values["restored_at"] = now
    if client_id is not None:
        values.update(await popups.follow(db, project_id, hook, call, client_id))
    await calls.update_call(db, call["id"], values)
    await call_journal.announce(db, project_id, call["id"])
    if (
        hook.cmd == Command.EVENT
        and hook.event_type == EventType.TRANSFERRED
        and hook.second_callid
    ):
        second = await calls.ensure_call(db, project_id, hook.second_callid, now)
        await calls.update_call(
            db,
            second["id"],
            {
                "transferred_from": hook.callid,
                "client_id": second["client_id"] or client_id,
                "phone": second["phone"] or hook.phone,
                "direction": second["direction"] or Direction.IN.value,
            },
        )
    if client_id is None:
        return  # an internal call: nothing to show in a client's dialog
    await calls.changed(db, project_id, client_id, call["id"])
    if hook.cmd != Command.RATING:
        await variables.set_variables(
            db, project_id, client_id, _call_variables(hook, call), client_checked=True
        )
    if text:
        await dialogs.add_message(
            db,
            project_id,
            client_id,
            dialogs.MessageKind.SYSTEM,
            text,
            call_id=call["id"],
            client_checked=True,
            origin=origin,
        )
    # After the call's own message: «megafon_call_status Missed», then «megafon_missed_opened».
    await missed_calls.follow(db, project_id, hook, call, client_id, now)


# The columns get the enums' values: sqlite3 binds a str subclass through its adapter lookup,
# which would cost every webhook a little.


def _event_values(
    hook: Webhook, event_type: EventType, call: Call, now: datetime, final: bool
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if not final:
        values["last_event"] = event_type.value
    if event_type == EventType.INCOMING and call["incoming_at"] is None:
        values["incoming_at"] = now
    if event_type == EventType.ACCEPTED and call["accepted_at"] is None:
        values["accepted_at"] = now
    if event_type in (EventType.COMPLETED, EventType.CANCELLED) and call["ended_at"] is None:
        values["ended_at"] = now
    if event_type == EventType.TRANSFERRED and hook.second_callid:
        values["second_callid"] = hook.second_callid
    return values


def _history_values(
    hook: Webhook, status: CallStatus, direction: Direction, call: Call, now: datetime
) -> dict[str, Any]:
    values: dict[str, Any] = {"status": status.value, "direction": direction.value}
    values["started_at"] = hook.start or call["incoming_at"] or call["created_at"]
    values["duration"] = hook.duration if hook.duration is not None else 0
    if hook.wait is not None:
        values["wait"] = hook.wait
    if hook.link:
        values["record_link"] = hook.link
    if hook.rating is not None:
        values["rating"] = hook.rating
    if call["ended_at"] is None:
        values["ended_at"] = now
    return values
