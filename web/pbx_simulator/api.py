"""The PBX API the CRM calls (PROTOCOL.md §2): REST v1 and the legacy `/sys/crm_api.wcgp`."""

from __future__ import annotations

import asyncio
import functools
import hmac
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from web.pbx_simulator.fields import read_fields
from web.pbx_simulator.history import HistoryRecord, as_csv, read_moment
from web.pbx_simulator.pbx import LEGACY, REST, is_phone, pbx_of

Handler = Callable[[Request], Awaitable[Response]]


def _as_configured(handler: Handler) -> Handler:
    """Answer slowly or fail, as `/simulator/behaviour` says, before the handler runs."""

    @functools.wraps(handler)
    async def answer(request: Request) -> Response:
        pbx = pbx_of(request)
        if pbx.behaviour.delay > 0:
            await asyncio.sleep(pbx.behaviour.delay)
        # Read after the delay: a change made meanwhile applies to this answer too.
        if pbx.behaviour.fail_status:
            # A failing PBX answers its gateway's plain text, not JSON (PROTOCOL.md §2.1).
            status = pbx.behaviour.fail_status
            return PlainTextResponse(f"{status} {_phrase(status)}", status_code=status)
        return await handler(request)

    return answer


@_as_configured
async def rest_makecall(request: Request) -> Response:
    """REST v1 click-to-call: ring the employee, then the client."""
    pbx = pbx_of(request)
    if not _rest_key_ok(request):
        return JSONResponse({"message": "Invalid token"}, status_code=401)
    fields = await read_fields(request)
    wanted, phone = fields.get("user", ""), fields.get("phone", "")
    if not wanted or not is_phone(phone):
        return JSONResponse({"message": "Invalid parameters"}, status_code=400)
    user = pbx.find_user(wanted)
    if user is None:
        return JSONResponse({"message": "User not found"}, status_code=404)
    return JSONResponse({"callid": pbx.make_call(request, REST, wanted, user, phone)})


@_as_configured
async def rest_users(request: Request) -> Response:
    """REST v1 employees, with the `search`/`start`/`limit` paging of the real API."""
    if not _rest_key_ok(request):
        return JSONResponse({"message": "Invalid token"}, status_code=401)
    search = request.query_params.get("search", "")
    start = _int(request.query_params.get("start"), 0)
    limit = _int(request.query_params.get("limit"), 100)
    found = [
        u
        for u in pbx_of(request).config.users
        if search.lower() in " ".join((u["login"], u["name"], u["ext"])).lower()
    ]
    page = found[start : start + limit]
    more = start + limit < len(found)
    info = {
        "search": search,
        "start": start,
        "limit": limit,
        "total": len(found),
        "next": start + limit if more else None,
    }
    return JSONResponse({"items": [_rest_user(u) for u in page], "info": info})


@_as_configured
async def rest_history(request: Request) -> Response:
    """REST v1 call history (PROTOCOL.md §2.2): `start`/`end`, `type`, `user`, `limit`."""
    if not _rest_key_ok(request):
        return JSONResponse({"message": "Invalid token"}, status_code=401)
    found = _history(request, dict(request.query_params))
    if found is None:
        return JSONResponse({"message": "Invalid parameters"}, status_code=400)
    return JSONResponse([r.rest() for r in found])


def _history(request: Request, fields: dict[str, str]) -> list[HistoryRecord] | None:
    """The calls the fields ask for, oldest first, at most `limit`; None for bad fields."""
    start = read_moment(fields.get("start", ""))
    end = read_moment(fields.get("end", ""))
    kind = fields.get("type", "all")
    if start is None or end is None or kind not in ("all", "in", "out", "missed"):
        return None
    history = pbx_of(request).webhooks.history
    found = history.between(start, end, kind, fields.get("user", ""))
    return found[: _int(fields.get("limit"), 1000) or 1000]


@_as_configured
async def legacy(request: Request) -> Response:
    """The legacy API: one URL, `cmd` + `token` as form fields or a query string."""
    pbx = pbx_of(request)
    fields = await read_fields(request)
    if not _same(fields.get("token", ""), pbx.config.api_key):
        return JSONResponse({"error": "Invalid token"}, status_code=401)
    cmd = fields.get("cmd", "")
    if cmd == "accounts":
        return JSONResponse([_legacy_account(u) for u in pbx.config.users])
    if cmd == "makeCall":
        wanted, phone = fields.get("user", ""), fields.get("phone", "")
        user = pbx.find_user(wanted) if wanted else None
        if user is None or not is_phone(phone):
            return JSONResponse({"error": "Invalid parameters"}, status_code=400)
        return JSONResponse({"uuid": pbx.make_call(request, LEGACY, wanted, user, phone)})
    if cmd == "history":
        found = _history(request, fields)
        if found is None:
            return JSONResponse({"error": "Invalid parameters"}, status_code=400)
        domain = request.url.hostname or "vats.example"
        return PlainTextResponse(as_csv(found, domain), media_type="text/csv")
    return JSONResponse({"error": "Invalid parameters: [cmd]"}, status_code=400)


def _rest_key_ok(request: Request) -> bool:
    return _same(request.headers.get("x-api-key", ""), pbx_of(request).config.api_key)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _int(text: str | None, default: int) -> int:
    try:
        return max(0, int(text)) if text else default
    except ValueError:
        return default


def _rest_user(user: dict[str, str]) -> dict[str, str]:
    return {
        "login": user["login"],
        "name": user["name"],
        "ext": user["ext"],
        "telnum": user["telnum"],
        "mobile": "",
        "email": user.get("email", ""),
        "position": "",
        "role": user.get("role") or ("admin" if user["login"] == "admin" else "user"),
    }


def _legacy_account(user: dict[str, str]) -> dict[str, str]:
    return {
        "name": user["login"],
        "realName": user["name"],
        "ext": user["ext"],
        "telnum": user["telnum"],
        "email": user.get("email", ""),
    }
