"""Clients: the people a project talks to, found by name, phone or variable values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypedDict, cast

import sqlalchemy as sa

from core import clock, paging, phones, search
from core.db import Database, prepared
from core.errors import NotFound, ValidationError
from core.i18n import gettext as _
from core.projects import MESSENGERS, Messenger
from core.tables import client_variables, clients, search_terms, users

PAGE_SIZE = 50


class ClientType(StrEnum):
    """Where a client came from: the phone, or one of the messengers (`Messenger`)."""

    TELEPHONY = "telephony"
    WHATSAPP = Messenger.WHATSAPP.value
    TELEGRAM = Messenger.TELEGRAM.value
    VIBER = Messenger.VIBER.value
    INSTAGRAM = Messenger.INSTAGRAM.value
    VK = Messenger.VK.value
    FACEBOOK = Messenger.FACEBOOK.value


_CLIENT_TYPES = {t.value: t for t in ClientType}


def client_type_label(client_type: str) -> str:
    if client_type == ClientType.TELEPHONY:
        return _("Телефония")
    return MESSENGERS.get(client_type, client_type)


class Client(TypedDict):
    """A row of `clients`, with its responsible employee's name."""

    id: int
    project_id: int
    name: str  # "" for a client a call created
    client_type: str  # a `ClientType`
    phone: str | None  # digits with the country code
    responsible_id: int | None
    created_at: datetime
    responsible_name: str | None


@dataclass
class ClientInput:
    """What the client form sends (`client_type` as sent: checked on saving)."""

    name: str = ""
    phone: str = ""
    client_type: str = ClientType.TELEPHONY
    responsible_id: int | None = None


@dataclass
class ClientPage:
    """One page of a client list; `next_before` continues it, None on the last page."""

    clients: list[Client]
    next_before: int | None


async def _clean(db: Database, project_id: int, data: ClientInput) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        "name": " ".join(data.name.split()),
        "client_type": data.client_type,
        "phone": None,
        "responsible_id": data.responsible_id,
    }
    if len(values["name"]) > 200:
        errors["name"] = _("Имя длиннее 200 символов.")
    if data.phone.strip():
        try:
            values["phone"] = phones.parse(data.phone)
        except ValidationError as e:
            errors.update(e.errors)
    elif data.client_type == ClientType.TELEPHONY:
        errors["phone"] = _("Клиенту телефонии нужен номер телефона.")
    if not values["name"] and not data.phone.strip():
        errors["name"] = _("Укажите имя или телефон клиента.")
    if data.client_type not in _CLIENT_TYPES:
        errors["client_type"] = _("Выберите тип клиента.")
    if data.responsible_id is not None:
        owner = await db.fetch_val(
            sa.select(users.c.id).where(
                users.c.id == data.responsible_id,
                users.c.project_id == project_id,
                users.c.is_active,
            )
        )
        if owner is None:
            errors["responsible_id"] = _("Выберите ответственного из сотрудников проекта.")
    if errors:
        raise ValidationError(errors)
    return values


async def create_client(db: Database, project_id: int, data: ClientInput) -> int:
    values = await _clean(db, project_id, data)
    async with db.transaction():
        client_id: int = await db.execute(
            clients.insert().values(project_id=project_id, created_at=clock.now(), **values)
        )
        await reindex(db, project_id, client_id)
    return client_id


async def create_for_phone(
    db: Database, project_id: int, phone: str, client_type: ClientType
) -> int:
    """A client created from a call: the number is already canonical, there is no name yet."""
    row = {
        "project_id": project_id,
        "name": "",
        "client_type": client_type.value,
        "phone": phone,
        "created_at": clock.now(),
    }
    client_id: int = await db.execute(_NEW_CLIENT, row)
    await reindex(db, project_id, client_id)
    return client_id


async def update_client(db: Database, project_id: int, client_id: int, data: ClientInput) -> None:
    values = await _clean(db, project_id, data)
    async with db.transaction():
        await get_client(db, project_id, client_id)
        await db.execute(clients.update().where(clients.c.id == client_id).values(**values))
        await reindex(db, project_id, client_id)


async def get_client(db: Database, project_id: int, client_id: int) -> Client:
    """A client of this project with its responsible employee's name."""
    row = await db.fetch_one(
        sa.select(clients, users.c.name.label("responsible_name"))
        .select_from(clients.outerjoin(users, users.c.id == clients.c.responsible_id))
        .where(clients.c.id == client_id, clients.c.project_id == project_id)
    )
    if row is None:
        raise NotFound(_("Клиент не найден."))
    return cast(Client, row)


_CLIENT = prepared(
    sa.select(clients.c.name, clients.c.phone).where(clients.c.id == sa.bindparam("p_client"))
)
_SEARCHED_VALUES = prepared(
    sa.select(client_variables.c.value).where(
        client_variables.c.client_id == sa.bindparam("p_client"),
        # the telephony integration's own variables are not searched (see core.variables)
        client_variables.c.name.not_like("megafon\\_%", escape="\\"),
    )
)
_DROP_TERMS = prepared(
    search_terms.delete().where(search_terms.c.client_id == sa.bindparam("p_client"))
)
_ADD_TERM = prepared(
    search_terms.insert().values(
        {c: sa.bindparam(c) for c in ("project_id", "term", "client_id", "kind")}
    )
)
_NEW_CLIENT = prepared(
    clients.insert().values(
        {c: sa.bindparam(c) for c in ("project_id", "name", "client_type", "phone", "created_at")}
    )
)


async def reindex(db: Database, project_id: int, client_id: int) -> None:
    """Rewrite the client's search terms from its name, phone and variables."""
    key = {"p_client": client_id}
    client = await db.fetch_one(_CLIENT, key)
    assert client is not None
    values = await db.fetch_all(_SEARCHED_VALUES, key)
    terms = search.terms_for(client["name"], client["phone"], (v["value"] for v in values))
    await db.execute(_DROP_TERMS, key)
    await db.execute_many(_ADD_TERM, search.rows_for(project_id, client_id, terms))


def _listing() -> sa.Select[Any]:
    return sa.select(clients, users.c.name.label("responsible_name")).select_from(
        clients.outerjoin(users, users.c.id == clients.c.responsible_id)
    )


async def find_clients(
    db: Database,
    project_id: int,
    query: str = "",
    *,
    before: int | None = None,
    limit: int = PAGE_SIZE,
) -> ClientPage:
    """Newest clients first, optionally only those matching `query`; keyset-paged by id."""
    bounds = search.query_range(query)
    if bounds is None:
        listing = _listing().where(clients.c.project_id == project_id)
        rows, next_before = await paging.newest_first(
            db, listing, clients.c.id, before=before, limit=limit
        )
    else:
        matches = (
            sa.select(search_terms.c.client_id)
            .where(
                search_terms.c.project_id == project_id,
                search_terms.c.term >= bounds[0],
                search_terms.c.term < bounds[1],
            )
            .distinct()
        )
        found, next_before = await paging.newest_first(
            db, matches, search_terms.c.client_id, before=before, limit=limit
        )
        ids = [r["client_id"] for r in found]
        rows = await db.fetch_all(
            _listing().where(clients.c.id.in_(ids)).order_by(clients.c.id.desc())
        )
    return ClientPage(cast(list[Client], rows), next_before)
