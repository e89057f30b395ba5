"""Bot reactions: "when a message in a client's dialog matches <text>, run these calculator
lines". A match is the whole message, case-insensitive, against any of the `;`-separated
variants. Matching happens in the transaction that writes the message, which records a job;
`core.bots` runs the job after the commit, so nothing is lost between the two.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TypedDict, cast

import sqlalchemy as sa

from core import calculator, clock
from core.db import Database, prepared
from core.errors import NotFound, ValidationError
from core.i18n import gettext as _
from core.tables import bot_jobs, bot_reactions

FUNCTIONS = ("megafon_call",)
MAX_PATTERN = 1000


class JobState(StrEnum):
    """Where a bot job (`bot_jobs.state`) is: each runs once at most, never again."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # also a job cut off by a restart


def job_state_label(state: str) -> str:
    labels: dict[str, str] = {
        JobState.PENDING: _("ждёт"),
        JobState.RUNNING: _("выполняется"),
        JobState.DONE: _("выполнена"),
        JobState.FAILED: _("ошибка"),
    }
    return labels.get(state, state)


class Reaction(TypedDict):
    """A row of `bot_reactions`."""

    id: int
    project_id: int
    pattern: str  # `;`-separated variants of a whole message
    actions: str  # calculator lines
    is_active: bool
    created_at: datetime


class BotJob(TypedDict):
    """A row of `bot_jobs`: one run of a reaction for a message."""

    id: int
    project_id: int
    client_id: int
    reaction_id: int
    message_id: int | None
    state: str  # a `JobState`
    result: str  # the assigned variables, or why it failed
    created_at: datetime
    finished_at: datetime | None


_ACTIVE = prepared(
    sa.select(bot_reactions.c.id, bot_reactions.c.pattern).where(
        bot_reactions.c.project_id == sa.bindparam("p_project"),
        bot_reactions.c.is_active.is_(True),
    )
)
_JOB = prepared(
    bot_jobs.insert().values(
        {
            c: sa.bindparam(c)
            for c in ("project_id", "client_id", "reaction_id", "message_id", "state", "created_at")
        }
    )
)


def variants(pattern: str) -> list[str]:
    return [v.strip().casefold() for v in pattern.split(";") if v.strip()]


def matches(pattern: str, text: str) -> bool:
    return text.strip().casefold() in variants(pattern)


async def enqueue(db: Database, project_id: int, client_id: int, message_id: int, text: str) -> int:
    """Record a job for each active reaction the message matches; the number recorded."""
    count = 0
    for reaction in await db.fetch_all(_ACTIVE, {"p_project": project_id}):
        if matches(reaction["pattern"], text):
            await db.execute(
                _JOB,
                {
                    "project_id": project_id,
                    "client_id": client_id,
                    "reaction_id": reaction["id"],
                    "message_id": message_id,
                    "state": JobState.PENDING.value,
                    "created_at": clock.now(),
                },
            )
            count += 1
    return count


def _clean(pattern: str, actions: str) -> dict[str, str]:
    errors = {}
    pattern = pattern.strip()
    actions = actions.strip()
    if not variants(pattern):
        errors["pattern"] = _(
            "Укажите текст сообщения, например megafon_call_status Missed "
            "(несколько вариантов — через точку с запятой)."
        )
    elif len(pattern) > MAX_PATTERN:
        errors["pattern"] = _("Текст длиннее 1000 символов.")
    if not actions:
        errors["actions"] = _("Напишите хотя бы одну строку калькулятора.")
    else:
        try:
            calculator.check(actions, FUNCTIONS)
        except ValidationError as e:
            errors.update(e.errors)
    if errors:
        raise ValidationError(errors)
    return {"pattern": pattern, "actions": actions}


async def list_reactions(db: Database, project_id: int) -> list[Reaction]:
    rows = await db.fetch_all(
        bot_reactions.select()
        .where(bot_reactions.c.project_id == project_id)
        .order_by(bot_reactions.c.id)
    )
    return cast(list[Reaction], rows)


async def get_reaction(db: Database, project_id: int, reaction_id: int) -> Reaction:
    row = await db.fetch_one(
        bot_reactions.select().where(
            bot_reactions.c.id == reaction_id, bot_reactions.c.project_id == project_id
        )
    )
    if row is None:
        raise NotFound(_("Такой реакции нет."))
    return cast(Reaction, row)


async def save_reaction(
    db: Database,
    project_id: int,
    pattern: str,
    actions: str,
    *,
    is_active: bool = True,
    reaction_id: int | None = None,
) -> int:
    values = {**_clean(pattern, actions), "is_active": is_active}
    if reaction_id is None:
        new_id: int = await db.execute(
            bot_reactions.insert().values(project_id=project_id, created_at=clock.now(), **values)
        )
        return new_id
    await get_reaction(db, project_id, reaction_id)
    await db.execute(
        bot_reactions.update().where(bot_reactions.c.id == reaction_id).values(**values)
    )
    return reaction_id


async def delete_reaction(db: Database, project_id: int, reaction_id: int) -> None:
    async with db.transaction():
        await get_reaction(db, project_id, reaction_id)
        await db.execute(bot_jobs.delete().where(bot_jobs.c.reaction_id == reaction_id))
        await db.execute(bot_reactions.delete().where(bot_reactions.c.id == reaction_id))


async def recent_jobs(db: Database, project_id: int, limit: int = 20) -> list[BotJob]:
    """The latest runs, newest first, for the bot page."""
    rows = await db.fetch_all(
        bot_jobs.select()
        .where(bot_jobs.c.project_id == project_id)
        .order_by(bot_jobs.c.id.desc())
        .limit(limit)
    )
    return cast(list[BotJob], rows)
