"""What a call webhook does to the CRM: the call record, dialog notifications, client variables.

The notification texts are a public contract that bots match literally:
`megafon_call_event <TYPE>` and `megafon_call_status <Status>`.

A call's first `history` decides its outcome and writes the status message; the PBX may send
another one (the recording link later; reconciliation reads the PBX's history API back), which
only fills what is still blank and writes no second message. An event after the history only
fills the call's blank details: no variables, no message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from core import dialogs, matching, variables
from core.db import Database
from core.telephony import call_journal, calls, missed_calls, popups, recordings
from core.telephony.calls import Call
from core.telephony.protocol import (
    CallStatus,
    Command,
    Direction,
    EventType,
    Webhook,
    fallback_status,
)

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
) -> bool:
    """Apply an event, history or rating webhook (inside the caller's transaction); False when
    it changed nothing (a later history with nothing new: the caller journals a repeat).

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
    call_variables: dict[str, str] | None = None  # None: `_call_variables`
    if hook.cmd == Command.EVENT:
        if hook.event_type is None or final:
            # A type the CRM does not know only names its call. After the history an event
            # is too late: the call is over and history has the last word, the client's
            # variables may describe a newer call already, and a `megafon_call_event` after
            # `megafon_call_status` would restart a bot's reaction. It fills blanks, no more.
            call_variables = {}
        else:
            values.update(_event_values(hook, hook.event_type, call, now))
            text = event_text(hook.event_type) if hook.event_type in DIALOG_EVENTS else None
    elif hook.cmd == Command.HISTORY and final:
        values.update(_blanks(hook, call))
        answered_later = _answered_later(hook, call)
        values.update(answered_later)
        if not any(v is not None for k, v in values.items() if k != "updated_at"):
            return False  # nothing new: a repeat
        call_variables = await _late_variables(db, client_id, hook, values)
    elif hook.cmd == Command.HISTORY:
        hook = _resolved(hook, call)
        assert hook.status is not None and hook.direction is not None
        values.update(_history_values(hook, hook.status, hook.direction, call, now))
        text = status_text(hook.status)
    elif hook.cmd == Command.RATING:
        values["rating"] = hook.rating
    if origin and call["restored_at"] is None:
        values["restored_at"] = now
    if client_id is not None:
        values.update(await popups.follow(db, project_id, hook, call, client_id))
    await calls.update_call(db, call["id"], values)
    if values.get("record_link") and values["record_link"] != call["record_link"]:
        await recordings.note(db, project_id, call["id"], values["record_link"], now)
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
                "phone": second["phone"] or hook.phone[: WIDTHS["phone"]],
                "direction": second["direction"] or Direction.IN.value,
            },
        )
    if client_id is None:
        return True  # an internal call: nothing to show in a client's dialog
    await calls.changed(db, project_id, client_id, call["id"])
    if call_variables is None:
        call_variables = _call_variables(hook, call)
    if hook.cmd != Command.RATING and call_variables:
        await variables.set_variables(
            db, project_id, client_id, call_variables, client_checked=True
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
    if hook.cmd == Command.HISTORY and final and answered_later:
        await missed_calls.answered_later(db, project_id, hook, call, client_id, now)
    return True


# The columns get the enums' values: sqlite3 binds a str subclass through its adapter lookup,
# which would cost every webhook a little.


def _event_values(
    hook: Webhook, event_type: EventType, call: Call, now: datetime
) -> dict[str, Any]:
    values: dict[str, Any] = {"last_event": event_type.value}
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
    if hook.status_raw:  # applied as `status`, kept as it came
        values["status_raw"] = hook.status_raw[:40]
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


def _resolved(hook: Webhook, call: Call) -> Webhook:
    """A history with its direction and status known: a direction untold (or a word the CRM
    does not know) is the call's, as its events or our makeCall told it, else `in`; a status
    the CRM does not know is applied as its `fallback_status`."""
    known = {d.value: d for d in Direction}
    direction = hook.direction or known.get(call["direction"]) or Direction.IN
    status = hook.status or fallback_status(hook.duration, direction)
    return replace(hook, direction=direction, status=status)


def _blanks(hook: Webhook, call: Call) -> dict[str, Any]:
    """What a later history of a call adds: only what the first lacked (the recording link
    often comes later; the PBX's history API may know the wait or the rating). The outcome,
    the start and a duration already told stay as the first history said."""
    values: dict[str, Any] = {}
    if hook.link and not call["record_link"]:
        values["record_link"] = hook.link
    if hook.duration and not call["duration"]:
        values["duration"] = hook.duration
    if hook.wait is not None and call["wait"] is None:
        values["wait"] = hook.wait
    if hook.rating is not None and call["rating"] is None:
        values["rating"] = hook.rating
    return values


def _answered_later(hook: Webhook, call: Call) -> dict[str, Any]:
    """A later history that says an employee answered the call the first one called
    unanswered: a group call rings several employees, and the PBX may send a history for each
    (PROTOCOL.md §6.1: a second history must not lose an answered outcome). The call becomes
    answered, by that employee; its dialog keeps the one status message it had (a bot reacted
    to it already), and the client leaves «Пропущенные» as after any answered call. A later
    `Success` that names no employee (`pbx`: voicemail) changes no outcome."""
    if (
        hook.status != CallStatus.SUCCESS
        or call["status"] == CallStatus.SUCCESS.value
        or not hook.user
    ):
        return {}
    return {"status": CallStatus.SUCCESS.value, "status_raw": "", "pbx_user": hook.user[:200]}


_LATE = {
    "record_link": "megafon_record_link",
    "pbx_user": "megafon_call_user",
    "ext": "megafon_call_ext",
}


async def _late_variables(
    db: Database, client_id: int | None, hook: Webhook, values: Mapping[str, Any]
) -> dict[str, str]:
    """The client's variables a later history fills, only while they still describe this call
    (its `megafon_call_id`): a newer call's are never overwritten."""
    if client_id is None:
        return {}
    rows = await variables.list_variables(db, client_id)
    if not any(r["name"] == "megafon_call_id" and r["value"] == hook.callid for r in rows):
        return {}
    return {name: values[column] for column, name in _LATE.items() if values.get(column)}
