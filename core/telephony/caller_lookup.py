"""The PBX's "who is calling?" (`cmd=contact`): the client's name and responsible employee.

Answered from indexes only, while the phone rings; an unknown number is `{}` (never `[]`),
and nobody is created: that happens when the call's events arrive.
"""

from __future__ import annotations

from typing import TypedDict

import sqlalchemy as sa

from core import matching, phones
from core.db import Database, prepared
from core.employees import CallMethod
from core.tables import clients, users
from core.telephony.protocol import bare_login


class ContactAnswer(TypedDict, total=False):
    """The answer to `cmd=contact`, as the PBX reads it; `{}` for a number nobody has."""

    contact_name: str
    responsible: str  # the PBX login (bare, no `@domain`) of the employee the call goes to first


_CONTACT = prepared(
    sa.select(
        clients.c.name,
        clients.c.phone,
        users.c.pbx_user,
        users.c.call_method,
        users.c.is_active,
    )
    .select_from(clients.outerjoin(users, users.c.id == clients.c.responsible_id))
    .where(clients.c.id == sa.bindparam("p_client"))
)


async def who_is_calling(db: Database, project_id: int, phone: str) -> ContactAnswer:
    digits = phones.from_pbx(phone)
    if digits is None:
        return {}
    client_id = await matching.find_client(db, project_id, digits)
    if client_id is None:
        return {}
    row = await db.fetch_one(_CONTACT, {"p_client": client_id})
    assert row is not None
    answer: ContactAnswer = {"contact_name": row["name"] or phones.display(row["phone"] or digits)}
    # Only an active employee the PBX knows can take the call; otherwise the PBX's own plan.
    if row["pbx_user"] and row["is_active"] and row["call_method"] == CallMethod.MEGAFON:
        # The bare login the PBX's own lists show, whatever `@domain` the setting carries.
        answer["responsible"] = bare_login(row["pbx_user"])
    return answer
