"""Projects: the tenant every employee, client and key belongs to."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import TypedDict, cast

import sqlalchemy as sa

from core import audit, clock
from core.db import Database, prepared
from core.errors import NotFound, ValidationError
from core.i18n import gettext as _
from core.tables import projects


class Messenger(StrEnum):
    """A messenger a project can connect; each is also a client type (`core.clients`)."""

    WHATSAPP = "whatsapp"
    TELEGRAM = "telegram"
    VIBER = "viber"
    INSTAGRAM = "instagram"
    VK = "vk"
    FACEBOOK = "facebook"


# Their names as the messengers write them, in the order the settings page lists them.
MESSENGERS: dict[str, str] = {
    Messenger.WHATSAPP: "WhatsApp",
    Messenger.TELEGRAM: "Telegram",
    Messenger.VIBER: "Viber",
    Messenger.INSTAGRAM: "Instagram",
    Messenger.VK: "ВКонтакте",
    Messenger.FACEBOOK: "Facebook",
}


class Project(TypedDict):
    """A row of `projects`."""

    id: int
    name: str
    api_key: str | None  # «Ключ доступа к API», until one is generated None
    messengers: str  # connected `Messenger`s, comma-separated
    created_at: datetime


def clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError.single("project", _("Укажите название проекта."))
    if len(name) > 200:
        raise ValidationError.single("project", _("Название проекта длиннее 200 символов."))
    return name


async def create_project(db: Database, name: str) -> int:
    project_id: int = await db.execute(
        projects.insert().values(name=clean_name(name), messengers="", created_at=clock.now())
    )
    return project_id


_BY_ID = prepared(projects.select().where(projects.c.id == sa.bindparam("p_id")))


async def get_project(db: Database, project_id: int) -> Project:
    row = await db.fetch_one(_BY_ID, {"p_id": project_id})
    if row is None:
        raise NotFound(_("Проект не найден."))
    return cast(Project, row)


async def project_by_name(db: Database, name: str) -> Project | None:
    row = await db.fetch_one(projects.select().where(projects.c.name == clean_name(name)))
    return cast(Project | None, row)


async def generate_api_key(db: Database, project_id: int, *, who: audit.Actor | None = None) -> str:
    """Issue a new "Ключ доступа к API"; the previous key stops working at once. `who` is
    journaled as having done it (never the key)."""
    async with db.transaction():
        project = await get_project(db, project_id)
        key = secrets.token_hex(20)
        await db.execute(projects.update().where(projects.c.id == project_id).values(api_key=key))
        if who is not None:
            action = audit.Action.API_KEY_REGENERATED if project["api_key"] else None
            await audit.record(db, project_id, who, action or audit.Action.API_KEY_GENERATED)
    return key


_BY_KEY = prepared(projects.select().where(projects.c.api_key == sa.bindparam("key")))


async def project_by_api_key(db: Database, key: str | None) -> Project | None:
    """The project whose current API key this is, or None."""
    if not key or len(key) > 64:
        return None
    row = await db.fetch_one(_BY_KEY, {"key": key})
    if row is None or not hmac.compare_digest(row["api_key"].encode(), key.encode()):
        return None
    return cast(Project, row)


_MESSENGERS = {m.value: m for m in Messenger}


def connected_messengers(project: Project) -> list[Messenger]:
    stored = (project["messengers"] or "").split(",")
    return [_MESSENGERS[m] for m in stored if m in _MESSENGERS]


async def set_messengers(
    db: Database, project_id: int, messengers: Iterable[str]
) -> list[Messenger]:
    chosen = [m for m in Messenger if m in set(messengers)]
    unknown = set(messengers) - set(Messenger)
    if unknown:
        raise ValidationError.single("messengers", _("Неизвестный мессенджер."))
    await db.execute(
        projects.update().where(projects.c.id == project_id).values(messengers=",".join(chosen))
    )
    return chosen
