"""A project's connection to its MegaFon PBX («Телефония»): the API token and the domain.

The token is the PBX's «Ключ для авторизации в АТС»; it is stored to call the PBX with and is
never shown back in full. The API that answered last is remembered with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict, cast

import httpx

from core import audit, clock
from core.db import Database
from core.errors import ValidationError
from core.i18n import gettext as _
from core.tables import pbx_connections
from core.telephony.pbx_client import Api, PbxClient, PbxError, PbxNotConnected, PbxUser
from core.telephony.pbx_client import base_url as pbx_base_url


class Connection(TypedDict):
    """A row of `pbx_connections`: at most one per project."""

    project_id: int
    base_url: str  # `https://vats123456.megapbx.ru`, see `pbx_client.base_url`
    api_token: str
    api: str  # the `Api` that answered last, "" before the first answer
    connected_at: datetime
    checked_at: datetime | None
    check_result: str  # "" when the last check succeeded, else why it failed


async def get(db: Database, project_id: int) -> Connection | None:
    row = await db.fetch_one(
        pbx_connections.select().where(pbx_connections.c.project_id == project_id)
    )
    return cast(Connection | None, row)


def masked(token: str) -> str:
    """Enough of the token to recognise it, never enough to use it."""
    return "•" * 8 + token[-4:] if len(token) > 8 else "•" * 8


async def save(
    db: Database,
    project_id: int,
    token: str,
    domain: str,
    *,
    allow_private: bool = False,
    who: audit.Actor | None = None,
) -> Connection:
    """«Сохранить настройки»: connect, or change the token and/or the domain in place.

    An empty token keeps the stored one (the form never shows it). A change keeps the project
    connected: the row is updated, never deleted and recreated. A domain that is a loopback,
    private or other non-public IP address is refused unless `allow_private`
    (`PBX_ALLOW_PRIVATE`); the connection itself refuses such addresses, names included.
    `who` is journaled with the domain and whether the token changed (never the token)."""
    async with db.transaction():
        current = await get(db, project_id)
        url, token = _validated(
            token, domain, connected=current is not None, allow_private=allow_private
        )
        saved = await _save(db, project_id, current, url, token)
        if who is not None and saved != current:
            action, details = _change(current, saved)
            await audit.record(db, project_id, who, action, details=details)
        return saved


def _change(before: Connection | None, after: Connection) -> tuple[audit.Action, dict[str, object]]:
    if before is None:
        return audit.Action.TELEPHONY_CONNECTED, {"domain": after["base_url"]}
    return audit.Action.TELEPHONY_CHANGED, {
        "old_domain": before["base_url"],
        "domain": after["base_url"],
        "token_changed": after["api_token"] != before["api_token"],
    }


async def _save(
    db: Database, project_id: int, current: Connection | None, url: str, token: str
) -> Connection:
    fresh = {"base_url": url, "checked_at": None, "check_result": ""}
    if current is None:
        row = {"project_id": project_id, "api_token": token, "api": "", **fresh}
        await db.upsert(pbx_connections, {**row, "connected_at": clock.now()}, keys=("project_id",))
    else:
        token = token or current["api_token"]
        if (url, token) == (current["base_url"], current["api_token"]):
            return current
        # Another PBX may speak another API; the same PBX with a new token does not.
        api = current["api"] if url == current["base_url"] else ""
        await db.execute(
            pbx_connections.update()
            .where(pbx_connections.c.project_id == project_id)
            .values(api_token=token, api=api, **fresh)
        )
    saved = await get(db, project_id)
    assert saved is not None
    return saved


def _validated(token: str, domain: str, *, connected: bool, allow_private: bool) -> tuple[str, str]:
    """The PBX's base URL and the token (empty: keep the stored one), or every field's error."""
    token = token.strip()
    errors: dict[str, str] = {}
    if not token and not connected:
        errors["token"] = _("Вставьте API token из настроек интеграции в кабинете МегаФон.")
    elif token and (len(token) > 300 or any(c.isspace() for c in token)):
        errors["token"] = _("API token — одна строка без пробелов.")
    url = ""
    try:
        url = pbx_base_url(domain, allow_private=allow_private)
    except ValidationError as e:
        errors.update(e.errors)
    if errors:
        raise ValidationError(errors)
    return url, token


async def disconnect(db: Database, project_id: int, *, who: audit.Actor | None = None) -> None:
    """«Отключить»: calls from the CRM stop; webhooks keep arriving (they use the CRM's key)."""
    async with db.transaction():
        current = await get(db, project_id)
        await db.execute(pbx_connections.delete().where(pbx_connections.c.project_id == project_id))
        if who is not None and current is not None:
            details = {"domain": current["base_url"]}
            await audit.record(
                db, project_id, who, audit.Action.TELEPHONY_DISCONNECTED, details=details
            )


async def client(db: Database, http: httpx.AsyncClient, project_id: int) -> PbxClient:
    connection = await get(db, project_id)
    if connection is None:
        raise PbxNotConnected()
    return PbxClient(http, connection["base_url"], connection["api_token"], connection["api"])


async def remember_api(db: Database, project_id: int, pbx: PbxClient, before: Api | None) -> None:
    """Keep the API that answered, so the next request goes straight to it."""
    if pbx.api and pbx.api != before:
        await db.execute(
            pbx_connections.update()
            .where(pbx_connections.c.project_id == project_id)
            .values(api=pbx.api)
        )


async def read_users(db: Database, http: httpx.AsyncClient, project_id: int) -> list[PbxUser]:
    """The PBX's employees, asked now; the API that answered is kept for the next request."""
    pbx = await client(db, http, project_id)
    before = pbx.api
    users = await pbx.users()
    await remember_api(db, project_id, pbx, before)
    return users


async def check(db: Database, http: httpx.AsyncClient, project_id: int) -> list[PbxUser]:
    """«Проверить подключение»: ask the PBX for its employees; the outcome is kept for the page."""
    try:
        users = await read_users(db, http, project_id)
    except PbxNotConnected:
        raise
    except PbxError as e:
        await _checked(db, project_id, e.message)
        raise
    await _checked(db, project_id, "")
    return users


async def _checked(db: Database, project_id: int, result: str) -> None:
    await db.execute(
        pbx_connections.update()
        .where(pbx_connections.c.project_id == project_id)
        .values(checked_at=clock.now(), check_result=result)
    )
