"""Which client a phone call belongs to ("Как происходит сопоставление клиента").

1. the telephony client with that number;
2. otherwise the oldest client of the project whose phone or any variable value holds that
   number in any common format;
3. otherwise a new client: WhatsApp if the project has any messenger connected, else telephony.
Short internal numbers never create clients. Every step is one indexed lookup.
"""

from __future__ import annotations

import sqlalchemy as sa

from core import clients, phones, projects, search
from core.db import Database, prepared
from core.tables import clients as clients_table
from core.tables import search_terms

# Prebuilt once: looked up for every call while the phone rings.
_TELEPHONY = prepared(
    sa.select(clients_table.c.id)
    .where(
        clients_table.c.project_id == sa.bindparam("p_project"),
        clients_table.c.phone == sa.bindparam("p_phone"),
        clients_table.c.client_type == clients.ClientType.TELEPHONY.value,
    )
    .order_by(clients_table.c.id)
    .limit(1)
)
_BY_TERM = prepared(
    sa.select(search_terms.c.client_id)
    .where(
        search_terms.c.project_id == sa.bindparam("p_project"),
        search_terms.c.term == sa.bindparam("p_phone"),
        sa.or_(search_terms.c.kind == search.PHONE, search_terms.c.kind == search.VARIABLE_PHONE),
    )
    .order_by(search_terms.c.client_id)
    .limit(1)
)


async def find_client(db: Database, project_id: int, digits: str) -> int | None:
    """Steps 1 and 2 for a canonical number; None when nobody has it."""
    key = {"p_project": project_id, "p_phone": digits}
    found: int | None = await db.fetch_val(_TELEPHONY, key)
    if found is None:
        found = await db.fetch_val(_BY_TERM, key)
    return found


async def match_or_create(db: Database, project_id: int, phone: str) -> int | None:
    """The client for a caller's number, created when new; None for internal numbers."""
    digits = phones.from_pbx(phone)
    if digits is None:
        return None
    # Two webhooks about one new number must not create two clients.
    await db.lock(f"match:{project_id}:{digits}")
    found = await find_client(db, project_id, digits)
    if found is not None:
        return found
    project = await projects.get_project(db, project_id)
    client_type = (
        clients.ClientType.WHATSAPP
        if projects.connected_messengers(project)
        else clients.ClientType.TELEPHONY
    )
    return await clients.create_for_phone(db, project_id, digits, client_type)
