"""Projects: the tenant every employee, client and key belongs to."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from core import clock
from core.db import Database, prepared
from core.errors import NotFound, ValidationError
from core.i18n import gettext as _
from core.tables import projects

# Messengers a project can connect; the keys double as client types (see core.clients).
MESSENGERS = {
    "whatsapp": "WhatsApp",
    "telegram": "Telegram",
    "viber": "Viber",
    "instagram": "Instagram",
    "vk": "ВКонтакте",
    "facebook": "Facebook",
}


def clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError.single("project", _("Укажите название проекта."))
    if len(name) > 200:
        raise ValidationError.single("project", _("Название проекта длиннее 200 символов."))
    return name


async def create_project(db: Database, name: str) -> int:
    return await db.execute(
        projects.insert().values(name=clean_name(name), messengers="", created_at=clock.now())
    )


_BY_ID = prepared(projects.select().where(projects.c.id == sa.bindparam("p_id")))


async def get_project(db: Database, project_id: int) -> Mapping[str, Any]:
    row = await db.fetch_one(_BY_ID, {"p_id": project_id})
    if row is None:
        raise NotFound(_("Проект не найден."))
    return row


async def project_by_name(db: Database, name: str) -> Mapping[str, Any] | None:
    return await db.fetch_one(projects.select().where(projects.c.name == clean_name(name)))


async def generate_api_key(db: Database, project_id: int) -> str:
    """Issue a new "Ключ доступа к API"; the previous key stops working at once."""
    await get_project(db, project_id)
    key = secrets.token_hex(20)
    await db.execute(projects.update().where(projects.c.id == project_id).values(api_key=key))
    return key


_BY_KEY = prepared(projects.select().where(projects.c.api_key == sa.bindparam("key")))


async def project_by_api_key(db: Database, key: str | None) -> Mapping[str, Any] | None:
    """The project whose current API key this is, or None."""
    if not key or len(key) > 64:
        return None
    row = await db.fetch_one(_BY_KEY, {"key": key})
    if row is None or not hmac.compare_digest(row["api_key"].encode(), key.encode()):
        return None
    return row


def connected_messengers(project: Mapping[str, Any]) -> list[str]:
    return [m for m in (project["messengers"] or "").split(",") if m in MESSENGERS]


async def set_messengers(db: Database, project_id: int, messengers: Iterable[str]) -> list[str]:
    chosen = [m for m in MESSENGERS if m in set(messengers)]
    unknown = set(messengers) - set(MESSENGERS)
    if unknown:
        raise ValidationError.single("messengers", _("Неизвестный мессенджер."))
    await db.execute(
        projects.update().where(projects.c.id == project_id).values(messengers=",".join(chosen))
    )
    return chosen
