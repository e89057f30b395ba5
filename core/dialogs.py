"""The dialog with a client: messages and system notifications in time order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from core import clock, events, reactions
from core.clients import get_client
from core.db import Database, prepared
from core.errors import ValidationError
from core.i18n import gettext as _
from core.tables import messages, users

# note: a manager's internal note; system: a notification such as `megafon_call_event ACCEPTED`
# (never sent to the client); incoming / outgoing: messenger messages.
NOTE, SYSTEM, INCOMING, OUTGOING = "note", "system", "incoming", "outgoing"
KINDS = (NOTE, SYSTEM, INCOMING, OUTGOING)
MAX_TEXT = 4000
PAGE_SIZE = 100


_INSERT = prepared(
    messages.insert().values(
        {
            c: sa.bindparam(c)
            for c in ("project_id", "client_id", "kind", "text", "author_id", "created_at")
        }
    )
)


@dataclass
class DialogPage:
    """Messages oldest first; `earlier_before` loads the page before it, None at the start."""

    messages: list[Mapping[str, Any]]
    earlier_before: int | None


def _with_author() -> sa.Select:
    return sa.select(messages, users.c.name.label("author_name")).select_from(
        messages.outerjoin(users, users.c.id == messages.c.author_id)
    )


async def add_message(
    db: Database,
    project_id: int,
    client_id: int,
    kind: str,
    text: str,
    *,
    author_id: int | None = None,
    client_checked: bool = False,
    from_bot: bool = False,
) -> Mapping[str, Any]:
    """Append a message to the client's dialog and return it as the dialog shows it; bot
    reactions that match it run after the commit (`core.reactions`).

    `client_checked`: the caller already knows the client belongs to the project.
    `from_bot`: written by a bot reaction, so it triggers none (no loops)."""
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind!r}")
    text = text.strip()
    if not text:
        raise ValidationError.single("text", _("Напишите текст заметки."))
    if len(text) > MAX_TEXT:
        raise ValidationError.single("text", _("Текст длиннее 4000 символов."))
    row = {
        "project_id": project_id,
        "client_id": client_id,
        "kind": kind,
        "text": text,
        "author_id": author_id,
        "created_at": clock.now(),
    }
    async with db.transaction():
        if not client_checked:
            await get_client(db, project_id, client_id)
        message_id = await db.execute(_INSERT, row)
        await events.emit_for_client(
            db, project_id, client_id, events.MESSAGE_CREATED, message_id=message_id
        )
        if not from_bot:
            await reactions.enqueue(db, project_id, client_id, message_id, text)
        if author_id is not None:
            return await db.fetch_one(_with_author().where(messages.c.id == message_id))
    return {**row, "id": message_id, "author_name": None}


_MESSAGE = prepared(
    _with_author().where(
        messages.c.id == sa.bindparam("p_id"), messages.c.project_id == sa.bindparam("p_project")
    )
)


async def get_message(db: Database, project_id: int, message_id: int) -> Mapping[str, Any] | None:
    """One message as the dialog shows it (None if it is not in this project)."""
    return await db.fetch_one(_MESSAGE, {"p_id": message_id, "p_project": project_id})


async def add_note(
    db: Database, project_id: int, client_id: int, author_id: int, text: str
) -> Mapping[str, Any]:
    return await add_message(db, project_id, client_id, NOTE, text, author_id=author_id)


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
    if before is not None:
        query = query.where(messages.c.id < before)
    rows = await db.fetch_all(query.order_by(messages.c.id.desc()).limit(limit + 1))
    more = len(rows) > limit
    rows = list(reversed(rows[:limit]))
    return DialogPage(rows, rows[0]["id"] if more and rows else None)
