"""Receiving PBX webhooks: nothing acknowledged is lost, nothing takes effect twice.

Each webhook with a valid token is stored raw in `webhook_deliveries` and applied in the same
transaction; the caller answers the PBX only after `receive` returns, that is after the commit.
A repeated delivery (same call, command and event type, or the same history) finds its key in
`webhook_effects` and changes nothing; another history of a call only fills what the first
lacked, and is a repeat when it adds nothing. A processing failure rolls back the effects
only: the raw payload stays, with the error, for an admin to read and re-run. The journal is
kept for a number of days and up to a number of rows per project (`purge`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypedDict, cast

import sqlalchemy as sa

from core import clock, paging
from core.db import Database, prepared
from core.errors import NotFound, StorageUnavailable
from core.i18n import gettext as _
from core.tables import projects, webhook_deliveries, webhook_effects
from core.telephony import caller_lookup, notifications, protocol
from core.telephony.protocol import Command, InvalidWebhook, Webhook

log = logging.getLogger("crm.webhooks")

PAGE_SIZE = 50


class DeliveryResult(StrEnum):
    """What became of a delivery (`webhook_deliveries.result`)."""

    OK = "ok"  # applied (or a `contact` question answered)
    DUPLICATE = "duplicate"  # a repeat of one already applied: nothing changed
    REJECTED = "rejected"  # the fields could not be read (`InvalidWebhook`)
    ERROR = "error"  # applying it failed; an admin can re-run it


_RESULTS = {r.value: r for r in DeliveryResult}


class Origin(StrEnum):
    """Where a delivery came from (`webhook_deliveries.origin`, `messages.origin`)."""

    WEBHOOK = ""  # the PBX pushed it
    HISTORY = "pbx_history"  # reconciliation read it back from the PBX's call history


_ORIGINS = {o.value for o in Origin}


def result_label(result: str) -> str:
    labels: dict[str, str] = {
        DeliveryResult.OK: _("выполнен"),
        DeliveryResult.DUPLICATE: _("повтор"),
        DeliveryResult.REJECTED: _("отклонён"),
        DeliveryResult.ERROR: _("ошибка"),
    }
    return labels.get(result, result)


class Delivery(TypedDict):
    """A row of `webhook_deliveries` as the journal shows it, `fields` read from `payload`."""

    id: int
    project_id: int
    received_at: datetime
    cmd: str  # as sent, cut to 40 characters: a `Command` unless rejected
    event_type: str  # event: its type; history: its status (both as sent)
    callid: str
    payload: str  # every field as sent but the token, JSON
    origin: str  # an `Origin`: "" pushed by the PBX, `pbx_history` read back by reconciliation
    result: str  # a `DeliveryResult`
    error: str
    processed_at: datetime | None
    fields: dict[str, str]


Answer = Mapping[str, object]  # the JSON body the PBX gets back


@dataclass(frozen=True)
class Receipt:
    """What became of one delivery; `answer` is the JSON body the PBX gets back."""

    delivery_id: int
    result: DeliveryResult
    answer: Answer
    error: str = ""


_COLUMNS = (
    "project_id",
    "received_at",
    "cmd",
    "event_type",
    "callid",
    "payload",
    "result",
    "error",
    "processed_at",
    "origin",
)
_STORE = prepared(webhook_deliveries.insert().values({c: sa.bindparam(c) for c in _COLUMNS}))
_SET_RESULT = prepared(
    webhook_deliveries.update()
    .where(webhook_deliveries.c.id == sa.bindparam("p_id"))
    .values(
        result=sa.bindparam("result"),
        error=sa.bindparam("error"),
        processed_at=sa.bindparam("processed_at"),
    )
)


async def _set_result(
    db: Database,
    delivery_id: int,
    result: DeliveryResult,
    error: str,
    processed_at: datetime | None,
) -> None:
    await db.execute(
        _SET_RESULT,
        {
            "p_id": delivery_id,
            "result": result.value,
            "error": error,
            "processed_at": processed_at,
        },
    )


async def _store(
    db: Database,
    project_id: int,
    fields: Mapping[str, str],
    now: datetime,
    result: DeliveryResult,
    error: str = "",
    *,
    durable: bool = True,
    origin: Origin = Origin.WEBHOOK,
) -> int:
    def column(value: str, width: int) -> str:
        return value.replace("\x00", "")[:width]  # PostgreSQL text cannot hold NUL

    row = {
        "project_id": project_id,
        "received_at": now,
        "cmd": column(fields.get("cmd", ""), 40),
        "event_type": column(
            fields.get("status" if fields.get("cmd") == Command.HISTORY else "type", ""), 40
        ),
        "callid": column(fields.get("callid", ""), 200),
        "payload": json.dumps(dict(fields), ensure_ascii=False, sort_keys=True),
        # The value, not the member: sqlite3 binds a str subclass through its adapter lookup.
        "result": result.value,
        "error": error.replace("\x00", ""),
        "processed_at": now if result != DeliveryResult.ERROR else None,
        "origin": origin.value,
    }
    delivery_id: int = await (db.execute if durable else db.execute_unawaited)(_STORE, row)
    return delivery_id


async def _apply(
    db: Database,
    project_id: int,
    hook: Webhook,
    delivery_id: int,
    now: datetime,
    origin: Origin,
) -> tuple[DeliveryResult, Answer]:
    if hook.cmd == Command.CONTACT:  # a re-run of a failed lookup
        return DeliveryResult.OK, await caller_lookup.who_is_calling(db, project_id, hook.phone)
    if not await db.insert_ignore(
        webhook_effects,
        {"project_id": project_id, "key": hook.dedupe_key, "delivery_id": delivery_id},
        keys=("project_id", "key"),
    ):
        return DeliveryResult.DUPLICATE, {"status": "ok"}
    if hook.cmd == Command.HISTORY:
        # Another history of the call, delivered at the same moment, waits here until this
        # one commits, so that only the first decides the outcome (`notifications.apply`).
        await db.insert_ignore(
            webhook_effects,
            {
                "project_id": project_id,
                "key": protocol.outcome_key(hook.callid),
                "delivery_id": delivery_id,
            },
            keys=("project_id", "key"),
        )
    if not await notifications.apply(db, project_id, hook, now, origin=origin.value):
        return DeliveryResult.DUPLICATE, {"status": "ok"}  # a later history with nothing new
    return DeliveryResult.OK, {"status": "ok"}


async def _process(
    db: Database,
    project_id: int,
    hook: Webhook,
    delivery_id: int,
    now: datetime,
    stored_as: DeliveryResult,
    origin: Origin = Origin.WEBHOOK,
) -> Receipt:
    """Apply in a savepoint: on failure the effects go, the delivery stays with its error.
    A database that cannot write is no failure of this webhook: it fails the whole delivery
    (`StorageUnavailable`, a 503 the PBX retries), with nothing stored."""
    try:
        async with db.savepoint():
            result, answer = await _apply(db, project_id, hook, delivery_id, now, origin)
    except StorageUnavailable:
        raise
    except Exception as e:  # any failure is kept for the journal, never lost
        log.exception("webhook %s failed", delivery_id)
        message = f"{type(e).__name__}: {e}"[:2000]
        await _set_result(db, delivery_id, DeliveryResult.ERROR, message, None)
        return Receipt(delivery_id, DeliveryResult.ERROR, {"error": "Processing failed"}, message)
    if result != stored_as:
        await _set_result(db, delivery_id, result, "", now)
    return Receipt(delivery_id, result, answer)


async def receive(
    db: Database,
    project_id: int,
    fields: Mapping[str, str],
    *,
    origin: Origin = Origin.WEBHOOK,
) -> Receipt:
    """Store and apply one webhook; raises `InvalidWebhook` (after journaling it) for bad input.

    `origin`: `Origin.HISTORY` when reconciliation passes a call read from the PBX's history
    through here, so it takes effect exactly as its webhook would have (and once)."""
    now = clock.now()
    fields = {k: v for k, v in fields.items() if k != "crm_token"}
    try:
        hook = protocol.parse(fields)
    except InvalidWebhook as e:
        await _store(db, project_id, fields, now, DeliveryResult.REJECTED, str(e), origin=origin)
        raise
    if hook.cmd == Command.CONTACT:
        return await _answer_contact(db, project_id, hook, fields, now)
    async with db.transaction():
        delivery_id = await _store(db, project_id, fields, now, DeliveryResult.OK, origin=origin)
        return await _process(db, project_id, hook, delivery_id, now, DeliveryResult.OK, origin)


async def _answer_contact(
    db: Database, project_id: int, hook: Webhook, fields: Mapping[str, str], now: datetime
) -> Receipt:
    """`contact` (who is calling?) changes nothing, and the PBX waits for it with the phone ringing:
    it is answered from indexes, and its journal line joins the next commit unawaited
    (a crash can lose that line, never an effect)."""
    try:
        answer = await caller_lookup.who_is_calling(db, project_id, hook.phone)
    except Exception as e:  # kept for the journal like any other failure
        log.exception("contact lookup failed")
        message = f"{type(e).__name__}: {e}"[:2000]
        delivery_id = await _store(
            db, project_id, fields, now, DeliveryResult.ERROR, message, durable=False
        )
        return Receipt(delivery_id, DeliveryResult.ERROR, {"error": "Processing failed"}, message)
    delivery_id = await _store(db, project_id, fields, now, DeliveryResult.OK, durable=False)
    return Receipt(delivery_id, DeliveryResult.OK, answer)


async def rerun(db: Database, project_id: int, delivery_id: int) -> Receipt:
    """Apply a failed delivery again (after the cause was fixed)."""
    async with db.transaction():
        row = await db.fetch_one(
            webhook_deliveries.select().where(
                webhook_deliveries.c.id == delivery_id,
                webhook_deliveries.c.project_id == project_id,
            )
        )
        if row is None or row["result"] != DeliveryResult.ERROR:
            raise NotFound(_("Такого неудачного вебхука нет."))
        hook = protocol.parse(json.loads(row["payload"]))
        origin = Origin(row["origin"]) if row["origin"] in _ORIGINS else Origin.WEBHOOK
        return await _process(
            db, project_id, hook, delivery_id, clock.now(), DeliveryResult.ERROR, origin
        )


async def journal(
    db: Database,
    project_id: int,
    *,
    result: str | None = None,
    before: int | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[Delivery], int | None]:
    """Recent deliveries, newest first, only those with `result` if it is one; the second
    value continues the list."""
    query = webhook_deliveries.select().where(webhook_deliveries.c.project_id == project_id)
    if result is not None and result in _RESULTS:
        query = query.where(webhook_deliveries.c.result == _RESULTS[result].value)
    rows, next_before = await paging.newest_first(
        db, query, webhook_deliveries.c.id, before=before, limit=limit
    )
    for row in rows:
        row["fields"] = json.loads(row["payload"])
    return cast(list[Delivery], rows), next_before


async def purge(
    db: Database,
    project_id: int,
    *,
    keep_days: int,
    keep_rows: int,
    now: datetime | None = None,
    batch: int = 1000,
) -> int:
    """Forget one batch of the project's deliveries older than `keep_days` or beyond its
    newest `keep_rows`; the number forgotten (0: nothing is left to forget).

    Each batch is a statement of its own, so a purge never holds the database for long. The
    dedup keys (`webhook_effects`) are forgotten with the deliveries that aged out, not with
    those the cap removed: a recent delivery repeated by the PBX still changes nothing."""
    horizon = (now or clock.now()) - timedelta(days=keep_days)
    oldest = await db.fetch_all(
        sa.select(webhook_deliveries.c.id, webhook_deliveries.c.received_at)
        .where(webhook_deliveries.c.project_id == project_id)
        .order_by(webhook_deliveries.c.id)
        .limit(batch)
    )
    aged = [row["id"] for row in oldest if row["received_at"] < horizon]
    if aged:
        async with db.transaction():
            await db.execute(
                webhook_deliveries.delete().where(
                    webhook_deliveries.c.project_id == project_id,
                    webhook_deliveries.c.id.in_(aged),
                )
            )
            await db.execute(
                webhook_effects.delete().where(
                    webhook_effects.c.project_id == project_id,
                    webhook_effects.c.delivery_id <= max(aged),
                )
            )
        return len(aged)
    boundary = await db.fetch_val(  # the newest delivery beyond the cap
        sa.select(webhook_deliveries.c.id)
        .where(webhook_deliveries.c.project_id == project_id)
        .order_by(webhook_deliveries.c.id.desc())
        .offset(keep_rows)
        .limit(1)
    )
    if boundary is None:
        return 0
    beyond = [row["id"] for row in oldest if row["id"] <= boundary]
    await db.execute(
        webhook_deliveries.delete().where(
            webhook_deliveries.c.project_id == project_id,
            webhook_deliveries.c.id.in_(beyond),
        )
    )
    return len(beyond)


async def purge_journal(
    db: Database, *, keep_days: int, keep_rows: int, pause: float = 0.05
) -> int:
    """`purge` every project until nothing is left to forget, pausing between batches so
    webhooks keep their turn; the number of deliveries forgotten."""
    forgotten = 0
    for project_id in await db.fetch_all(sa.select(projects.c.id).order_by(projects.c.id)):
        while done := await purge(db, project_id["id"], keep_days=keep_days, keep_rows=keep_rows):
            forgotten += done
            await asyncio.sleep(pause)
    return forgotten
