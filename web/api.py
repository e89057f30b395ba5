"""The public API in Salebot's style: `/api/<api_key>/<action>`, authenticated by the key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core import bots, callbacks, projects
from core.errors import ValidationError
from core.i18n import gettext as _
from core.telephony import dialing
from web.payload import MAX_DEPTH, Unreadable, UnreadableBody, body_fields


async def _params(request: Request) -> dict[str, str]:
    """Query string, and a form or JSON body: the API accepts all three, like Salebot's.
    Every value as text (a null as empty), without NUL characters, which no column takes."""
    params: dict[str, Any] = dict(request.query_params)
    if request.method == "POST":
        try:
            params.update(await body_fields(request))
        except UnreadableBody as e:
            raise ValidationError.single("body", _unreadable(e.reason)) from e
    return {
        str(k).replace("\x00", ""): "" if v is None else str(v).replace("\x00", "")
        for k, v in params.items()
    }


def _unreadable(reason: Unreadable) -> str:
    if reason is Unreadable.NOT_JSON:
        return _("Тело запроса — не JSON.")
    if reason is Unreadable.TOO_DEEP:
        return _("В JSON больше {depth} уровней вложенности.").format(depth=MAX_DEPTH)
    if reason is Unreadable.NOT_A_FORM:
        return _("Тело запроса — не форма multipart (или в ней есть файлы).")
    if reason is Unreadable.UNKNOWN_CHARSET:
        return _("Кодировка, названная в Content-Type (charset), неизвестна.")
    return _("Ожидался JSON-объект.")


async def _project(request: Request) -> Mapping[str, Any] | None:
    return await projects.project_by_api_key(request.state.db, request.path_params["api_key"])


def _invalid_key() -> Response:
    return JSONResponse({"error": "Invalid token"}, status_code=401)


async def callback(request: Request) -> Response:
    """Write a callback (a message the client never sees) into a client's dialog."""
    project = await _project(request)
    if project is None:
        return _invalid_key()
    params = await _params(request)
    message = await callbacks.callback(request.state.db, project["id"], params)
    return JSONResponse(
        {"status": "success", "client_id": message["client_id"], "message_id": message["id"]}
    )


async def megafon_call(request: Request) -> Response:
    """`megafon_call(client_phone, user)` over HTTP: the PBX rings `user`, then the client."""
    project = await _project(request)
    if project is None:
        return _invalid_key()
    params = await _params(request)
    started = await bots.megafon_call(
        request.state.db,
        request.state.pbx_http,
        project["id"],
        params.get("client_phone", ""),
        params.get("user", ""),
        source=dialing.CallSource.API,
    )
    return JSONResponse(
        {
            "status": "success",
            "callid": started.callid,
            "request_id": started.id,
            "repeated": started.repeated,
        }
    )
