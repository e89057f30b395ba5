"""The dialog with a client: messages and system notifications in time order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypedDict, cast

import sqlalchemy as sa

from core import clock, events, paging, reactions
from core.clients import get_client
from core.db import Database, prepared
from core.errors import ValidationError
from core.i18n import gettext as _
from core.tables import messages, users


class MessageKind(StrEnum):
    """Who a message in a dialog is from, and who sees it."""

    NOTE = "note"  # a manager's internal note
    SYSTEM = "system"  # a notification such as `megafon_call_event ACCEPTED`, never sent
    INCOMING = "incoming"  # from the client, by messenger
    OUTGOING = "outgoing"  # to the client, by messenger


_KINDS = {k.value: k for k in MessageKind}
MAX_TEXT = 4000
PAGE_SIZE = 100


_INSERT = prepared(
    messages.insert().values(
        {
            c: sa.bindparam(c)
            for c in (
                "project_id",
                "client_id",
                "kind",
                "text",
                "author_id",
                "created_at",
                "call_id",
                "origin",
            )
        }
    )
)


class Message(TypedDict):
    """A row of `messages` as the dialog shows it, with its author's name."""

    id: int
    project_id: int
    client_id: int
    kind: str  # a `MessageKind`
    text: str
    author_id: int | None
    created_at: datetime
    call_id: int | None  # the call a `megafon_call_*` message tells about
    origin: str  # "" as it happened; `pbx_history`: restored from the PBX's call history
    author_name: str | None


@dataclass
class DialogPage:
    """Messages oldest first; `earlier_before` loads the page before it, None at the start."""

    messages: list[Message]
    earlier_before: int | None


def _with_author() -> sa.Select[Any]:
    return sa.select(messages, users.c.name.label("author_name")).select_from(
        messages.outerjoin(users, users.c.id == messages.c.author_id)
    )


async def add_message(
    db: Database,
    project_id: int,
    client_id: int,
    kind: MessageKind,
    text: str,
    *,
    author_id: int | None = None,
    call_id: int | None = None,
    client_checked: bool = False,
    from_bot: bool = False,
    origin: str = "",
) -> Message:
    """Append a message to the client's dialog and return it as the dialog shows it; bot
    reactions that match it run after the commit (`core.reactions`).

    `call_id`: the call the message tells about, so the dialog shows it beside that call.
    `client_checked`: the caller already knows the client belongs to the project.
    `from_bot`: written by a bot reaction, so it triggers none (no loops).
    `origin`: "" as it happened, `pbx_history` when reconciliation restored it (the dialog marks
    it «восстановлено из истории АТС»; the text stays as bots know it)."""
    known = _KINDS.get(kind)  # also the plain value, from callers that are not type-checked
    if known is None:
        raise ValueError(f"unknown message kind {kind!r}")
    text = text.strip()
    if not text:
        raise ValidationError.single("text", _("Напишите текст заметки."))
    if len(text) > MAX_TEXT:
        raise ValidationError.single("text", _("Текст длиннее 4000 символов."))
    row = {
        "project_id": project_id,
        "client_id": client_id,
        "kind": known.value,  # the value: sqlite3 binds a str subclass through an adapter lookup
        "text": text,
        "author_id": author_id,
        "created_at": clock.now(),
        "call_id": call_id,
        "origin": origin,
    }
    async with db.transaction():
        if not client_checked:
            await get_client(db, project_id, client_id)
        message_id = await db.execute(_INSERT, row)
        # A call's message is shown inside its call item: the event names the call too.
        about = {"call_id": call_id} if call_id is not None else {}
        await events.emit_for_client(
            db, project_id, client_id, events.MESSAGE_CREATED, message_id=message_id, **about
        )
        if not from_bot:
            await reactions.enqueue(db, project_id, client_id, message_id, text)
        if author_id is not None:
            written = await db.fetch_one(_with_author().where(messages.c.id == message_id))
            return cast(Message, written)
    return cast(Message, {**row, "id": message_id, "author_name": None})


_MESSAGE = prepared(
    _with_author().where(
        messages.c.id == sa.bindparam("p_id"), messages.c.project_id == sa.bindparam("p_project")
    )
)


async def get_message(db: Database, project_id: int, message_id: int) -> Message | None:
    """One message as the dialog shows it (None if it is not in this project)."""
    row = await db.fetch_one(_MESSAGE, {"p_id": message_id, "p_project": project_id})
    return cast(Message | None, row)


_MESSAGES_OF_CALL = prepared(
    _with_author()
    .where(
        messages.c.client_id == sa.bindparam("p_client"),  # within the client's index
        messages.c.call_id == sa.bindparam("p_call"),
    )
    .order_by(messages.c.id)
)


async def messages_of_call(db: Database, client_id: int, call_id: int) -> list[Message]:
    """The messages a call wrote in the client's dialog, oldest first."""
    rows = await db.fetch_all(_MESSAGES_OF_CALL, {"p_client": client_id, "p_call": call_id})
    return cast(list[Message], rows)


async def add_note(
    db: Database, project_id: int, client_id: int, author_id: int, text: str
) -> Message:
    return await add_message(db, project_id, client_id, MessageKind.NOTE, text, author_id=author_id)


async def dialog(
    db: Database,
    project_id: int,
    client_id: int,
    *,
    before: int | None = None,
    limit: int = PAGE_SIZE,
) -> DialogPage:
    """The latest `limit` messages (or those before a message id), newest at the bottom."""
    query = _with_author().where(
        messages.c.client_id == client_id, messages.c.project_id == project_id
    )
    rows, earlier_before = await paging.newest_first(
        db, query, messages.c.id, before=before, limit=limit
    )
    return DialogPage(cast(list[Message], rows[::-1]), earlier_before)
