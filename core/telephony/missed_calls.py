"""«Пропущенные»: a queue of clients who called and were not answered, that closes itself.

An inbound call whose `history` is anything but `Success` (the PBX says `Missed`, the client
hung up while it rang: `Cancel`, every line was `Busy`, the employee was `NotAvailable`, and
the rarer `NotAllowed`/`NotFound`) was not answered: it opens an item for its client, or adds
an attempt to the item already open. An answered call with the client (`Success`) closes it:
outbound from anywhere (the card, the queue, a bot, any phone on the PBX: each arrives as
`history` with `type=out`) or inbound. An employee can close an item by hand with a reason, and
reopen a closed one.

Opening, closing and reopening are written to the client's dialog as system messages that bots
match literally: `megafon_missed_opened`, `megafon_missed_closed <outbound|inbound|manual>`,
`megafon_missed_reopened`. A `missed.changed` event on the project's everyone-topic updates the
nav count and the queue on every open page.

Exactly once: only the first `history` of a call counts (the call has no status before it), so
a repeated delivery or a re-run from «Журнал вебхуков» adds no attempt and closes nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypedDict, cast

import sqlalchemy as sa

from core import clock, dialogs, events, phones
from core.db import Database, prepared
from core.errors import Conflict, NotFound, ValidationError
from core.i18n import gettext as _
from core.tables import missed_calls
from core.telephony.calls import Call
from core.telephony.protocol import CallStatus, Command, Direction, Webhook

MISSED_CHANGED = "missed.changed"  # on `events.managers_topic`: every open page hears it
OPENED_TEXT = "megafon_missed_opened"
REOPENED_TEXT = "megafon_missed_reopened"
MAX_NOTE = 150  # the free text of a reason (the column holds the reason's code too)


class CloseKind(StrEnum):
    """How an item was closed (`missed_calls.close_kind`)."""

    OUTBOUND = "outbound"  # an answered call to the client
    INBOUND = "inbound"  # the client called again and was answered
    MANUAL = "manual"  # an employee, with a reason


class Reason(StrEnum):
    """Why an employee closed an item by hand (stored as `code` or `code:free text`)."""

    NOT_REACHED = "not_reached"
    NOT_RELEVANT = "not_relevant"
    OTHER = "other"


def closed_text(kind: CloseKind) -> str:
    return f"megafon_missed_closed {kind.value}"


def reason_label(reason: str) -> str:
    """A stored reason in words: «Не дозвонились», «Не актуально» or the free text."""
    code, _sep, note = reason.partition(":")
    labels: dict[str, str] = {
        Reason.NOT_REACHED: _("Не дозвонились"),
        Reason.NOT_RELEVANT: _("Не актуально"),
        Reason.OTHER: _("Другое"),
    }
    label = labels.get(code, code)
    return f"{label}: {note}" if note else label


def close_kind_label(kind: str) -> str:
    labels: dict[str, str] = {
        CloseKind.OUTBOUND: _("Перезвонили"),
        CloseKind.INBOUND: _("Клиент дозвонился сам"),
        CloseKind.MANUAL: _("Закрыт вручную"),
    }
    return labels.get(kind, kind)


def reason_choices() -> list[tuple[str, str]]:
    return [(r.value, reason_label(r.value)) for r in Reason]


class MissedItem(TypedDict):
    """A row of `missed_calls`."""

    id: int
    project_id: int
    client_id: int
    phone: str
    attempts: int
    first_call_id: int
    last_call_id: int
    opened_at: datetime
    last_attempt_at: datetime
    closed_at: datetime | None
    close_kind: str  # a `CloseKind`, "" while open
    close_reason: str
    closed_by_call_id: int | None
    closed_by_pbx_user: str
    closed_by_user_id: int | None
    callback_seconds: int | None


_OPEN_OF_CLIENT = prepared(
    missed_calls.select().where(
        missed_calls.c.project_id == sa.bindparam("p_project"),
        missed_calls.c.client_id == sa.bindparam("p_client"),
        missed_calls.c.closed_at.is_(None),
    )
)


async def open_item(db: Database, project_id: int, client_id: int) -> MissedItem | None:
    row = await db.fetch_one(_OPEN_OF_CLIENT, {"p_project": project_id, "p_client": client_id})
    return cast(MissedItem | None, row)


async def get_item(db: Database, project_id: int, item_id: int) -> MissedItem:
    row = await db.fetch_one(
        missed_calls.select().where(
            missed_calls.c.id == item_id, missed_calls.c.project_id == project_id
        )
    )
    if row is None:
        raise NotFound(_("Такого пропущенного звонка нет."))
    return cast(MissedItem, row)


async def changed(db: Database, project_id: int, client_id: int) -> None:
    """Open pages show the queue and its count anew."""
    await events.emit(
        db, project_id, events.managers_topic(project_id), MISSED_CHANGED, {"client_id": client_id}
    )


async def callback_started(db: Database, project_id: int, client_id: int) -> None:
    """Someone calls the client (a click-to-call, an outbound call's event): the queue shows
    who, if the client waits in it."""
    if await open_item(db, project_id, client_id) is not None:
        await changed(db, project_id, client_id)


async def follow(
    db: Database, project_id: int, hook: Webhook, call: Call, client_id: int, now: datetime
) -> None:
    """What a call webhook does to the queue (`call` as it was before the webhook; inside
    the webhook's transaction)."""
    if hook.cmd == Command.HISTORY:
        if call["status"]:
            return  # this call's history was applied already: a repeat changes nothing
        await db.lock(f"missed:{project_id}:{client_id}")
        if hook.direction == Direction.IN and hook.status != CallStatus.SUCCESS:
            await _attempt(db, project_id, hook, call, client_id, now)
        elif hook.status == CallStatus.SUCCESS:
            await _reached(db, project_id, hook, call, client_id, now)
        else:  # a callback that failed: no one calls the client now
            await callback_started(db, project_id, client_id)
    elif (
        hook.cmd == Command.EVENT
        and (hook.direction or call["direction"]) == Direction.OUT
        and not call["status"]
    ):
        await callback_started(db, project_id, client_id)


async def answered_later(
    db: Database, project_id: int, hook: Webhook, call: Call, client_id: int, now: datetime
) -> None:
    """A call first told unanswered was answered after all (a later history of a group call,
    `notifications._answered_later`): the client's open item closes as after any answered call."""
    await db.lock(f"missed:{project_id}:{client_id}")
    await _reached(db, project_id, hook, call, client_id, now)


def _started(hook: Webhook, call: Call, now: datetime) -> datetime:
    return hook.start or call["incoming_at"] or call["created_at"] or now


async def _attempt(
    db: Database, project_id: int, hook: Webhook, call: Call, client_id: int, now: datetime
) -> None:
    started = _started(hook, call, now)
    item = await open_item(db, project_id, client_id)
    if item is None:
        await db.execute(
            missed_calls.insert().values(
                project_id=project_id,
                client_id=client_id,
                phone=(phones.normalize(hook.phone) or hook.phone)[:40],
                attempts=1,
                first_call_id=call["id"],
                last_call_id=call["id"],
                opened_at=started,
                last_attempt_at=started,
            )
        )
        await _say(db, project_id, client_id, OPENED_TEXT)
    elif call["id"] in (item["first_call_id"], item["last_call_id"]):
        return  # counted already (a twin delivery read the call before this one committed)
    else:
        await db.execute(
            missed_calls.update()
            .where(missed_calls.c.id == item["id"])
            .values(
                attempts=missed_calls.c.attempts + 1,
                last_call_id=call["id"],
                last_attempt_at=max(started, item["last_attempt_at"]),
                opened_at=min(started, item["opened_at"]),  # histories may come out of order
            )
        )
    await changed(db, project_id, client_id)


def _reached_at(hook: Webhook, call: Call, now: datetime) -> datetime:
    """When the client was reached: the PBX's start plus its ringing, else when it answered."""
    if hook.start is not None:
        return hook.start + timedelta(seconds=hook.wait or 0)
    return call["accepted_at"] or now


async def _reached(
    db: Database, project_id: int, hook: Webhook, call: Call, client_id: int, now: datetime
) -> None:
    item = await open_item(db, project_id, client_id)
    if item is None:
        return
    started = _started(hook, call, now)
    if started < item["opened_at"]:
        return  # a call from before the first missed one (histories out of order)
    reached = max(_reached_at(hook, call, now), item["opened_at"])
    kind = CloseKind.OUTBOUND if hook.direction == Direction.OUT else CloseKind.INBOUND
    await _close(
        db,
        item,
        {
            "closed_at": reached,
            "close_kind": kind.value,
            "closed_by_call_id": call["id"],
            "closed_by_pbx_user": (hook.user or call["pbx_user"])[:200],
            "callback_seconds": int((reached - item["opened_at"]).total_seconds()),
        },
    )


async def close_by_hand(
    db: Database, project_id: int, item_id: int, user_id: int, reason: str, note: str = ""
) -> MissedItem:
    """An employee closes an item with a reason (a free text is required for «Другое»);
    no time to callback is recorded, since no one reached the client."""
    note = " ".join(note.split())
    if reason not in tuple(Reason):
        raise ValidationError.single("reason", _("Выберите причину."))
    if reason == Reason.OTHER and not note:
        raise ValidationError.single("note", _("Напишите, почему закрываете."))
    if len(note) > MAX_NOTE:
        raise ValidationError.single("note", _("Не длиннее 150 символов."))
    async with db.transaction():
        item = await get_item(db, project_id, item_id)
        await db.lock(f"missed:{project_id}:{item['client_id']}")
        item = await get_item(db, project_id, item_id)
        if item["closed_at"] is not None:
            raise Conflict(_("Этот пропущенный звонок уже закрыт."))
        await _close(
            db,
            item,
            {
                "closed_at": clock.now(),
                "close_kind": CloseKind.MANUAL.value,
                "close_reason": f"{reason}:{note}" if note else reason,
                "closed_by_user_id": user_id,
            },
        )
        return await get_item(db, project_id, item_id)


async def _close(db: Database, item: MissedItem, values: dict[str, Any]) -> None:
    await db.execute(missed_calls.update().where(missed_calls.c.id == item["id"]).values(values))
    kind = CloseKind(values["close_kind"])
    await _say(db, item["project_id"], item["client_id"], closed_text(kind))
    await changed(db, item["project_id"], item["client_id"])


async def reopen(db: Database, project_id: int, item_id: int) -> MissedItem:
    """Undo a close: the item is open again as it was, unless the client has a newer open one."""
    async with db.transaction():
        item = await get_item(db, project_id, item_id)
        await db.lock(f"missed:{project_id}:{item['client_id']}")
        item = await get_item(db, project_id, item_id)
        if item["closed_at"] is None:
            raise Conflict(_("Этот пропущенный звонок не закрыт."))
        if await open_item(db, project_id, item["client_id"]) is not None:
            raise Conflict(_("Клиент снова звонил: его новый пропущенный звонок уже в очереди."))
        await db.execute(
            missed_calls.update()
            .where(missed_calls.c.id == item_id)
            .values(
                closed_at=None,
                close_kind="",
                close_reason="",
                closed_by_call_id=None,
                closed_by_pbx_user="",
                closed_by_user_id=None,
                callback_seconds=None,
            )
        )
        await _say(db, project_id, item["client_id"], REOPENED_TEXT)
        await changed(db, project_id, item["client_id"])
        return await get_item(db, project_id, item_id)


async def _say(db: Database, project_id: int, client_id: int, text: str) -> None:
    await dialogs.add_message(
        db, project_id, client_id, dialogs.MessageKind.SYSTEM, text, client_checked=True
    )
