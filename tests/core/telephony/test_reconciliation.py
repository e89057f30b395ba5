"""A reconciliation that reads again what an earlier one read (the overlap every run re-reads
for calls still going on) journals nothing again: a hidden number the webhook path refuses, a
recording link that is no web address (a PBX of its own over real HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.db import Database
from core.tables import calls, pbx_connections, webhook_deliveries
from core.telephony import connection, inbox, pbx_directory, reconciliation
from core.telephony.calls import employee_names
from core.telephony.pbx_client import PbxUser
from tests.support import builders
from tests.support.servers import LiveServer

pytestmark = pytest.mark.anyio


def _call(uid: str, client: str, minutes_ago: int, record: str = "") -> dict[str, object]:
    start = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return {
        "uid": uid,
        "type": "in",
        "status": "success",
        "client": client,
        "user": "ivanov",
        "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration": 10,
        "record": record,
    }


CALLS = [
    _call("hidden", "", 30),  # an anonymous caller: no number, refused
    _call("ftp", "79161234567", 20, "ftp://records.megapbx.ru/ftp.mp3"),
    _call("plain", "79161234568", 10),
]


async def history(request: Request) -> JSONResponse:
    return JSONResponse(CALLS)


async def test_what_a_run_read_is_not_journaled_again_by_the_next(db: Database) -> None:
    project = (await builders.admin(db))["project_id"]
    fake = Starlette(routes=[Route("/crmapi/v1/history/json", history)])
    with LiveServer(fake) as pbx:
        await connection.save(db, project, "pbx-secret-token-1234", pbx.url, allow_private=True)
        hour_ago = datetime.now(UTC) - timedelta(hours=1)
        await db.execute(pbx_connections.update().values(connected_at=hour_ago))
        journaled = sa.select(sa.func.count()).select_from(webhook_deliveries)
        async with httpx.AsyncClient(timeout=5) as http:
            first = await reconciliation.reconcile(db, http, project)
            assert first is not None and (first.calls_read, first.calls_restored) == (3, 2)
            assert await db.fetch_val(journaled) == 3  # the hidden number refused, once
            again = await reconciliation.reconcile(db, http, project)
    assert again is not None and (again.calls_read, again.calls_restored) == (3, 0)
    assert await db.fetch_val(journaled) == 3


async def test_a_restored_call_names_the_employee_set_up_by_extension(db: Database) -> None:
    """The history API names only the login; the PBX's user list gives its extension, as the
    PBX's own `history` webhook would, so the call is the employee's, not a bare «ivanov»."""
    project = (await builders.admin(db))["project_id"]
    await builders.manager(db, project, call_method="megafon_api", pbx_user="701")
    await pbx_directory.store(db, project, [PbxUser("ivanov", "Иван Иванов", "701")])
    fake = Starlette(routes=[Route("/crmapi/v1/history/json", history)])
    with LiveServer(fake) as pbx:
        await connection.save(db, project, "pbx-secret-token-1234", pbx.url, allow_private=True)
        async with httpx.AsyncClient(timeout=5) as http:
            run = await reconciliation.reconcile(db, http, project)
    assert run is not None and run.calls_restored == 2
    restored = await db.fetch_all(sa.select(calls.c.pbx_user, calls.c.ext))
    assert {(c["pbx_user"], c["ext"]) for c in restored} == {("ivanov", "701")}
    assert (await employee_names(db, project))["701"] == "Иван Петров"


async def group_history(request: Request) -> JSONResponse:
    return JSONResponse([_call("group", "79161234569", 15)])


async def test_a_call_the_crm_has_as_missed_is_answered_when_the_history_names_who_took_it(
    db: Database,
) -> None:
    """The group's history reached the CRM (nobody answered); the one naming the employee who
    took the call did not. Reconciliation reads it and the call becomes answered, once."""
    project = (await builders.admin(db))["project_id"]
    missed = {"cmd": "history", "type": "in", "status": "missed", "callid": "group"}
    await inbox.receive(db, project, {**missed, "phone": "79161234569", "user": "g_sales"})
    fake = Starlette(routes=[Route("/crmapi/v1/history/json", group_history)])
    with LiveServer(fake) as pbx:
        await connection.save(db, project, "pbx-secret-token-1234", pbx.url, allow_private=True)
        async with httpx.AsyncClient(timeout=5) as http:
            run = await reconciliation.reconcile(db, http, project)
            again = await reconciliation.reconcile(db, http, project)
    assert run is not None and run.calls_restored == 1
    assert again is not None and again.calls_restored == 0  # answered now: nothing lacks
    call = await db.fetch_one(sa.select(calls.c.status, calls.c.pbx_user))
    assert call is not None and (call["status"], call["pbx_user"]) == ("Success", "ivanov")
