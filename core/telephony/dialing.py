"""Calls from the CRM (PROTOCOL.md §2.3): the PBX rings the employee, then the client.

Used by the blue handset in a client card, by bots (`megafon_call`) and by the API. Every
call goes only to the directions the project allows; calls by bots and through the API are
also rate-limited per project (`call_rules`). A repeated request for the same employee and
number within `REPEAT_WINDOW` (a double click, an impatient second click while the PBX
thinks) returns the first request instead of a second call. Every request is kept in
`call_requests` with its outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypedDict, cast

import httpx

from core import clock, phones
from core.clients import Client
from core.db import Database
from core.employees import CallMethod, Employee
from core.errors import Conflict, ValidationError
from core.i18n import gettext as _
from core.tables import call_requests
from core.telephony import call_journal, call_rules, calls, connection, missed_calls
from core.telephony.calls import Call
from core.telephony.pbx_client import PbxError
from core.telephony.protocol import Direction, bare_login

REPEAT_WINDOW = timedelta(seconds=20)


class RequestState(StrEnum):
    """What became of our request to the PBX (`call_requests.state`); the call itself is
    followed by the PBX's webhooks."""

    PENDING = "pending"  # asked, no answer yet
    OK = "ok"  # the PBX took it: it rings the employee
    FAILED = "failed"  # refused or unreachable: `error` says why


class CallSource(StrEnum):
    """Who asked for the call (`call_requests.source`)."""

    CARD = "card"  # the blue handset in a client card
    BOT = "bot"  # a bot reaction's `megafon_call`
    API = "api"  # the `megafon_call` API method


# Sources a leaked API key can drive: their calls are counted against the project's limits.
RATE_LIMITED = (CallSource.BOT.value, CallSource.API.value)


class StoredRequest(TypedDict):
    """A row of `call_requests`."""

    id: int
    project_id: int
    client_id: int | None
    user_id: int | None
    source: str  # a `CallSource`
    pbx_user: str
    phone: str
    state: str  # a `RequestState`
    callid: str
    error: str
    created_at: datetime


@dataclass(frozen=True)
class CallRequest:
    id: int
    callid: str
    state: RequestState
    repeated: bool = False  # True: this was a repeat of a request already under way


def _clean(pbx_user: str, phone: str) -> tuple[str, str]:
    errors = {}
    pbx_user = bare_login(pbx_user)  # `ivanov@vats1.megapbx.ru`: the PBX knows `ivanov`
    if not pbx_user:
        errors["user"] = _(
            "Укажите логин, внутренний или прямой номер сотрудника в АТС, например ivanov."
        )
    elif len(pbx_user) > 200 or any(c.isspace() for c in pbx_user):
        errors["user"] = _("Логин сотрудника в АТС — одна строка без пробелов.")
    digits = phones.normalize(phone)
    if digits is None:
        errors["client_phone"] = _(
            "Не похоже на номер телефона клиента. Укажите номер с кодом страны, "
            "например 79004443322."
        )
    if errors:
        raise ValidationError(errors)
    assert digits is not None
    return pbx_user, digits


async def _claim(
    db: Database, values: dict[str, Any], rules: call_rules.Rules
) -> tuple[int, StoredRequest | None]:
    """A new pending request, or the recent one for the same employee and number; a new
    request by a bot or through the API only within the project's limits."""
    limited = values["source"] in RATE_LIMITED
    async with db.transaction():
        if limited:  # concurrent requests of a project count each other
            await db.lock(f"calls:{values['project_id']}")
        await db.lock(f"call:{values['project_id']}:{values['pbx_user']}:{values['phone']}")
        recent = await db.fetch_one(
            call_requests.select()
            .where(
                call_requests.c.project_id == values["project_id"],
                call_requests.c.pbx_user == values["pbx_user"],
                call_requests.c.phone == values["phone"],
                call_requests.c.state != RequestState.FAILED,
                call_requests.c.created_at > values["created_at"] - REPEAT_WINDOW,
            )
            .order_by(call_requests.c.id.desc())
            .limit(1)
        )
        if recent is not None:
            return recent["id"], cast(StoredRequest, recent)
        if limited:
            await call_rules.check_rate(
                db, values["project_id"], rules, values["created_at"], RATE_LIMITED
            )
        request_id: int = await db.execute(call_requests.insert().values(**values))
        return request_id, None


async def make_call(
    db: Database,
    http: httpx.AsyncClient,
    project_id: int,
    *,
    pbx_user: str,
    phone: str,
    source: CallSource,
    client_id: int | None = None,
    user_id: int | None = None,
) -> CallRequest:
    """Ask the PBX to connect `pbx_user` with `phone`; raises `PbxError` with the reason,
    `CallRefused` for a direction the project does not allow, `TooManyRequests` over its
    limits."""
    pbx_user, digits = _clean(pbx_user, phone)
    pbx = await connection.client(db, http, project_id)
    rules = await call_rules.get(db, project_id)
    call_rules.check_destination(rules, digits)
    now = clock.now()
    request_id, recent = await _claim(
        db,
        {
            "project_id": project_id,
            "client_id": client_id,
            "user_id": user_id,
            "source": source,
            "pbx_user": pbx_user,
            "phone": digits,
            "state": RequestState.PENDING,
            "created_at": now,
        },
        rules,
    )
    if recent is not None:
        state = RequestState(recent["state"])
        return CallRequest(request_id, recent["callid"], state, repeated=True)
    before = pbx.api
    try:
        callid = await pbx.make_call(pbx_user, digits)
    except PbxError as e:
        await _finish(db, request_id, RequestState.FAILED, error=e.message)
        raise
    async with db.transaction():
        await _finish(db, request_id, RequestState.OK, callid=callid)
        await connection.remember_api(db, project_id, pbx, before)
        if callid:
            # The PBX's events for this call carry the same id: they land in this client's
            # dialog even when the number also belongs to someone else.
            call = await calls.ensure_call(db, project_id, callid, now)
            await calls.update_call(
                db,
                call["id"],
                {
                    "client_id": call["client_id"] or client_id,
                    "phone": call["phone"] or digits,
                    "direction": call["direction"] or Direction.OUT,
                    "pbx_user": call["pbx_user"] or pbx_user,
                    "updated_at": now,
                },
            )
            await call_journal.announce(db, project_id, call["id"])
            shown_in = call["client_id"] or client_id
            if shown_in:
                await calls.changed(db, project_id, shown_in, call["id"])
                await missed_calls.callback_started(db, project_id, shown_in)
    return CallRequest(request_id, callid, RequestState.OK)


async def _finish(
    db: Database, request_id: int, state: RequestState, *, callid: str = "", error: str = ""
) -> None:
    await db.execute(
        call_requests.update()
        .where(call_requests.c.id == request_id)
        .values(state=state, callid=callid, error=error)
    )


async def get_request(db: Database, project_id: int, request_id: int) -> StoredRequest | None:
    row = await db.fetch_one(
        call_requests.select().where(
            call_requests.c.id == request_id, call_requests.c.project_id == project_id
        )
    )
    return cast(StoredRequest | None, row)


async def call_of_request(db: Database, project_id: int, request: StoredRequest) -> Call | None:
    """The call the PBX reports for a request (None until its first webhook or without an id)."""
    if not request["callid"]:
        return None
    return await calls.find_call(db, project_id, request["callid"])


async def call_from_card(
    db: Database,
    http: httpx.AsyncClient,
    employee: Employee,
    client: Client,
) -> CallRequest:
    """The blue handset: the employee's call method decides; every refusal says why."""
    if employee["call_method"] != CallMethod.MEGAFON:
        raise Conflict(
            _(
                "Звонки по API Megafon не включены для вас. "
                "Способ звонков меняет администратор в разделе «Сотрудники»."
            )
        )
    if not employee["pbx_user"]:
        raise Conflict(
            _(
                "В вашей карточке сотрудника не указан логин, внутренний или прямой номер в АТС. "
                "Его добавляет администратор в разделе «Сотрудники»."
            )
        )
    if not client["phone"]:
        raise Conflict(_("У клиента нет номера телефона."))
    return await make_call(
        db,
        http,
        employee["project_id"],
        pbx_user=employee["pbx_user"],
        phone=client["phone"],
        source=CallSource.CARD,
        client_id=client["id"],
        user_id=employee["id"],
    )


def progress(request: StoredRequest, call: Call | None) -> tuple[str, bool]:
    """What the card says about a call it started, and whether that is the final word."""
    if request["state"] == RequestState.FAILED:
        return request["error"], True
    if call is None or not (call["last_event"] or call["status"]):
        return _("АТС звонит вам, затем клиенту"), False
    label = calls.status_label(call)
    if call["status"]:
        return _("Звонок завершён: {status}").format(status=label), True
    return label, False
