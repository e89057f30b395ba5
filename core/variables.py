"""Client variables: named values written by managers, bots and the telephony integration.

Bounded, so that no request (an API callback, a bot run) can fill the database: a request sets
at most `MAX_PER_REQUEST` variables, a value has at most `MAX_VALUE` characters (as much as a
bot's calculator may make), and a client has at most `MAX_PER_CLIENT` variables besides the
telephony integration's own (`megafon_…`). Over a limit nothing of the request is saved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import TypedDict, cast

import sqlalchemy as sa

from core import clock, events
from core.clients import get_client, reindex
from core.db import Database, prepared
from core.errors import NotFound, ValidationError
from core.i18n import gettext as _
from core.tables import client_variables

SYSTEM_PREFIX = "megafon_"
MAX_NAME = 100
MAX_VALUE = 10_000  # = calculator.LIMITS.value
MAX_PER_REQUEST = 50
MAX_PER_CLIENT = 500
_NAME = re.compile(r"^[^\W\d]\w*$")


class Variable(TypedDict):
    """A row of `client_variables`."""

    client_id: int
    name: str
    value: str
    updated_at: datetime


def clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValidationError.single("name", _("Укажите имя переменной."))
    if len(name) > MAX_NAME or not _NAME.match(name):
        raise ValidationError.single(
            "name",
            _(
                "Имя переменной — буквы, цифры и знак подчёркивания, начинается с буквы, "
                "не длиннее 100 символов (например, city или megafon_call_id)."
            ),
        )
    return name


def clean_value(value: str) -> str:
    if len(value) > MAX_VALUE:
        raise ValidationError.single("value", _("Значение длиннее 10 000 символов."))
    return value


_OF_CLIENT = prepared(  # an open card re-reads them with every change (web/sse.py)
    client_variables.select()
    .where(client_variables.c.client_id == sa.bindparam("p_client"))
    .order_by(client_variables.c.name)
)


async def list_variables(db: Database, client_id: int) -> list[Variable]:
    return cast(list[Variable], await db.fetch_all(_OF_CLIENT, {"p_client": client_id}))


def searched(name: str) -> bool:
    """Variables written by the telephony integration (`megafon_call_direction` = `in`, an
    extension, a call id) would only add noise to client search, so they are not indexed."""
    return not name.startswith(SYSTEM_PREFIX)


async def set_variables(
    db: Database,
    project_id: int,
    client_id: int,
    values: Mapping[str, str],
    *,
    client_checked: bool = False,
) -> None:
    """Create or overwrite several variables at once, then refresh the client's search terms.

    `client_checked`: the caller already knows the client belongs to the project."""
    if len(values) > MAX_PER_REQUEST:
        raise ValidationError.single(
            "variables",
            _("За один раз можно задать не больше {n} переменных, а задано {got}.").format(
                n=MAX_PER_REQUEST, got=len(values)
            ),
        )
    stamp = clock.now()
    rows: list[Variable] = [
        {
            "client_id": client_id,
            "name": clean_name(k),
            "value": clean_value(v),
            "updated_at": stamp,
        }
        for k, v in values.items()
    ]
    async with db.transaction():
        if not client_checked:
            await get_client(db, project_id, client_id)
        await db.upsert(client_variables, rows, keys=("client_id", "name"))
        if any(searched(row["name"]) for row in rows):
            await _check_count(db, client_id)  # raising rolls the upsert back
            await reindex(db, project_id, client_id)
        await changed(db, project_id, client_id)


_OWN_COUNT = prepared(
    sa.select(sa.func.count())
    .select_from(client_variables)
    .where(
        client_variables.c.client_id == sa.bindparam("p_client"),
        client_variables.c.name.not_like("megafon\\_%", escape="\\"),  # SYSTEM_PREFIX
    )
)


async def _check_count(db: Database, client_id: int) -> None:
    """The telephony integration's few variables do not count, so a call's webhooks never
    fail on a client at the limit."""
    count = await db.fetch_val(_OWN_COUNT, {"p_client": client_id})
    if count > MAX_PER_CLIENT:
        raise ValidationError.single(
            "variables",
            _(
                "У клиента не может быть больше {n} переменных. "
                "Удалите ненужные, чтобы добавить новые."
            ).format(n=MAX_PER_CLIENT),
        )


async def changed(db: Database, project_id: int, client_id: int) -> None:
    """Open cards of the client show its variables anew."""
    await events.emit_for_client(db, project_id, client_id, events.VARIABLES_CHANGED)


async def set_variable(
    db: Database, project_id: int, client_id: int, name: str, value: str
) -> None:
    await set_variables(db, project_id, client_id, {name: value})


async def delete_variable(db: Database, project_id: int, client_id: int, name: str) -> None:
    async with db.transaction():
        await get_client(db, project_id, client_id)
        deleted = await db.fetch_val(
            sa.select(sa.func.count())
            .select_from(client_variables)
            .where(client_variables.c.client_id == client_id, client_variables.c.name == name)
        )
        if not deleted:
            raise NotFound(_("Переменная не найдена."))
        await db.execute(
            client_variables.delete().where(
                client_variables.c.client_id == client_id, client_variables.c.name == name
            )
        )
        await reindex(db, project_id, client_id)
        await changed(db, project_id, client_id)
