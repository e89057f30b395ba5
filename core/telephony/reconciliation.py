"""Reconciliation with the PBX («Сверка с АТС»): what the PBX's call history knows and the CRM
does not is applied as its webhooks would have been (issue 13, item 1).

The PBX posts each webhook once (PROTOCOL.md §6.1): while the CRM was down, deploying, or cut off,
those calls are lost unless read back. One run, for one project:

- takes the project's lease in `pbx_sync` (an UPDATE that succeeds only while the lease is free
  or expired): one reconciler per project at a time, whatever the processes and hosts;
- reads the history from `synced_until` minus `OVERLAP` (a call appears in the history when it
  ends, under the time it started: a call that was still going on at the last run is read again)
  up to now, at most `CATCH_UP` back; the first run reads from the connection's start, at most
  `FIRST_RUN` back; a long window is read in `CHUNK`s, each one read whole before any of it
  is applied;
- skips the calls the CRM already knows complete (their outcome, and the recording link the
  history has) with one query per page of calls, and passes each other one as its `history`
  webhook through `inbox.receive(..., origin=Origin.HISTORY)`: the same call, dialog message,
  variables and missed-call item, exactly once (the webhook's own dedupe; a webhook arriving later
  is a duplicate), the message marked «восстановлено из истории АТС»;
- moves `synced_until` to a chunk's end only once the whole chunk is applied, and records the
  outcome (calls read and restored, or the error in plain words) for «Телефония».

A PBX that is down, slow or answers garbage fails the run before anything of that chunk is
applied; the next run starts from the same place.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import httpx
import sqlalchemy as sa

from core import clock
from core.db import Database
from core.i18n import gettext as _
from core.tables import calls, pbx_connections, pbx_sync, pbx_users, webhook_deliveries
from core.telephony import connection, inbox
from core.telephony.pbx_client import PbxError
from core.telephony.pbx_history import HistoryCall
from core.telephony.protocol import STATUSES, CallStatus, InvalidWebhook, parse, pbx_login, person

log = logging.getLogger("crm.reconciliation")

OVERLAP = timedelta(hours=2)  # calls longer than this that end after a run are read too late
FIRST_RUN = timedelta(days=1)  # how far back the first run reads
CATCH_UP = timedelta(days=7)  # and any run at most (the CRM off, or MegaFon off, for longer)
CHUNK = timedelta(hours=6)  # a longer window is read and applied in parts of this length
LEASE = timedelta(minutes=10)  # a run that died holds the project this long at most
KNOWN_BATCH = 500  # callids per query for the calls the CRM already knows
APPLY_BATCH = 50  # calls applied per commit (a webhook waits at most one batch for the lock)


class Result(StrEnum):
    """`pbx_sync.result`; RUNNING only for a run that goes on after `reconcile_now` returned."""

    OK = "ok"
    FAILED = "error"
    RUNNING = "running"


@dataclass(frozen=True)
class Run:
    """What one reconciliation did."""

    result: Result
    calls_read: int
    calls_restored: int
    error: str = ""


@dataclass(frozen=True)
class Health:
    """What «Телефония» shows of the integration's health."""

    last_webhook_at: datetime | None
    synced_until: datetime | None
    finished_at: datetime | None
    result: str  # a `Result`, "" before the first run
    error: str
    calls_read: int
    calls_restored: int
    running: bool  # a reconciler holds the lease now
    restored_last_day: int


def owner_name() -> str:
    """Who holds a lease: this host and process, and a random part for each run."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}"


async def _take_lease(db: Database, project_id: int, owner: str, now: datetime) -> bool:
    await db.insert_ignore(pbx_sync, {"project_id": project_id}, keys=("project_id",))
    taken = await db.fetch_one(
        pbx_sync.update()
        .where(
            pbx_sync.c.project_id == project_id,
            sa.or_(
                pbx_sync.c.lease_owner == "",
                pbx_sync.c.lease_until.is_(None),
                pbx_sync.c.lease_until < now,
            ),
        )
        .values(lease_owner=owner, lease_until=now + LEASE, started_at=now)
        .returning(pbx_sync.c.synced_until)
    )
    return taken is not None


def _mine(project_id: int, owner: str) -> Any:
    return sa.and_(pbx_sync.c.project_id == project_id, pbx_sync.c.lease_owner == owner)


async def _advance(db: Database, project_id: int, owner: str, until: datetime) -> None:
    await db.execute(
        pbx_sync.update()
        .where(_mine(project_id, owner))
        .values(synced_until=until, lease_until=clock.now() + LEASE)
    )


async def _finish(db: Database, project_id: int, owner: str, run: Run) -> None:
    await db.execute(
        pbx_sync.update()
        .where(_mine(project_id, owner))
        .values(
            finished_at=clock.now(),
            result=run.result.value,
            error=run.error,
            calls_read=run.calls_read,
            calls_restored=run.calls_restored,
            lease_owner="",
            lease_until=None,
        )
    )


async def _complete_callids(db: Database, project_id: int, found: list[HistoryCall]) -> set[str]:
    """The calls of `found` the CRM already knows whole: their outcome, and the recording link
    when the history has one."""
    complete: set[str] = set()
    # Only a web address becomes the call's link (`protocol.parse`): any other is no lack.
    wants_link = {c.uid for c in found if c.record.startswith(("https://", "http://"))}
    # A call the CRM has as unanswered that the history says was answered (a group call's
    # other history, naming the employee who answered) is not complete: the webhook path
    # makes it answered.
    answered = {
        c.uid
        for c in found
        if STATUSES.get(c.status.lower()) == CallStatus.SUCCESS and person(c.user)
    }
    uids = [c.uid for c in found]
    for start in range(0, len(uids), KNOWN_BATCH):
        rows = await db.fetch_all(
            sa.select(calls.c.callid, calls.c.record_link, calls.c.status).where(
                calls.c.project_id == project_id,
                calls.c.callid.in_(uids[start : start + KNOWN_BATCH]),
                calls.c.status != "",
            )
        )
        complete.update(
            row["callid"]
            for row in rows
            if (row["record_link"] or row["callid"] not in wants_link)
            and (row["status"] == CallStatus.SUCCESS.value or row["callid"] not in answered)
        )
    return complete


async def _apply(
    db: Database, project_id: int, found: list[HistoryCall], read_before: datetime | None
) -> tuple[int, int]:
    """Apply the calls the CRM lacks; (restored, failed). A call whose fields the webhook path
    refuses is journaled as refused (in «Журнал вебхуков») and not counted as failed, by the
    run that first reads it: one that started before `read_before` (what earlier runs read up
    to) is read again only for the overlap, and refused again it is not journaled again."""
    complete = await _complete_callids(db, project_id, found)
    lacking = [
        c
        for c in found
        if c.uid not in complete
        and (read_before is None or c.start >= read_before or _acceptable(c))
    ]
    extensions = await _extensions(db, project_id) if lacking else {}
    restored = failed = 0
    for start in range(0, len(lacking), APPLY_BATCH):
        # Each call in a savepoint of its own (`inbox`), a batch of them committed together:
        # one wait for the disk per batch instead of one per call.
        async with db.transaction():
            for call in lacking[start : start + APPLY_BATCH]:
                fields = call.webhook_fields()
                if ext := extensions.get(pbx_login(call.user)):
                    fields.setdefault("ext", ext)
                try:
                    receipt = await inbox.receive(
                        db, project_id, fields, origin=inbox.Origin.HISTORY
                    )
                except InvalidWebhook:
                    log.warning("project %s: history record %s refused", project_id, call.uid)
                    continue
                if receipt.result == inbox.DeliveryResult.OK:
                    restored += 1
                elif receipt.result == inbox.DeliveryResult.ERROR:
                    failed += 1
    return restored, failed


async def _extensions(db: Database, project_id: int) -> dict[str, str]:
    """PBX login → extension, from the PBX's user list as last read. The PBX's own `history`
    names the employee's extension beside the login (PROTOCOL.md §1.2), its history API only
    the login: without this, an employee set up by extension («701») would be a bare login on
    every call restored, not the person (in the card, «Звонки», «Пропущенные»)."""
    rows = await db.fetch_all(
        sa.select(pbx_users.c.login, pbx_users.c.ext).where(
            pbx_users.c.project_id == project_id, pbx_users.c.ext != ""
        )
    )
    return {pbx_login(row["login"]): row["ext"] for row in rows}


def _acceptable(call: HistoryCall) -> bool:
    """Whether the webhook path takes the call (a hidden number, say, it refuses)."""
    try:
        parse(call.webhook_fields())
    except InvalidWebhook:
        return False
    return True


async def reconcile(
    db: Database,
    http: httpx.AsyncClient,
    project_id: int,
    *,
    now: datetime | None = None,
    owner: str | None = None,
) -> Run | None:
    """Reconcile one project with its PBX's history; None when another reconciler is at it.
    A failure of the PBX is kept as the run's outcome (and returned), never raised.

    `now`: where the window ends (the benchmark reads a past day); the lease is always taken
    for the present moment. `owner`: who holds the lease (this host and process by default)."""
    now = now or clock.now()
    owner = owner or owner_name()
    if not await _take_lease(db, project_id, owner, clock.now()):
        return None
    read = restored = unreadable = 0
    try:
        state = await db.fetch_one(
            sa.select(pbx_sync.c.synced_until, pbx_connections.c.connected_at)
            .select_from(
                pbx_sync.outerjoin(
                    pbx_connections, pbx_connections.c.project_id == pbx_sync.c.project_id
                )
            )
            .where(pbx_sync.c.project_id == project_id)
        )
        assert state is not None  # the lease row
        pbx = await connection.client(db, http, project_id)
        before = pbx.api
        if state["synced_until"] is not None:
            since = max(state["synced_until"] - OVERLAP, now - CATCH_UP)
        else:
            since = max(state["connected_at"] or now, now - FIRST_RUN)
        while since < now:
            until = min(since + CHUNK, now)
            history = await pbx.history(since, until)
            read += len(history.calls)
            unreadable += history.unreadable
            done, failed = await _apply(db, project_id, history.calls, state["synced_until"])
            restored += done
            if failed:
                run = Run(
                    Result.FAILED,
                    read,
                    restored,
                    _(
                        "Не удалось применить звонков из истории АТС: {n}. Подробности — "
                        "в «Журнале вебхуков»; следующая сверка попробует снова."
                    ).format(n=failed),
                )
                await _finish(db, project_id, owner, run)
                return run
            await _advance(db, project_id, owner, until)
            since = until
        await connection.remember_api(db, project_id, pbx, before)
    except PbxError as e:
        run = Run(Result.FAILED, read, restored, e.message)
    except BaseException:
        await _release(db, project_id, owner)
        raise
    else:
        note = (
            _("Записей истории, которые не удалось прочитать: {n}.").format(n=unreadable)
            if unreadable
            else ""
        )
        run = Run(Result.OK, read, restored, note)
    await _finish(db, project_id, owner, run)
    return run


async def _release(db: Database, project_id: int, owner: str) -> None:
    """Give the lease back after an unexpected failure (a stopped process lets it expire)."""
    try:
        await db.execute(
            pbx_sync.update()
            .where(_mine(project_id, owner))
            .values(lease_owner="", lease_until=None)
        )
    except Exception:
        log.exception("could not give back the reconciliation lease of project %s", project_id)


_BACKGROUND: set[asyncio.Task[Run | None]] = set()  # runs that outlived their request


async def reconcile_now(
    db: Database, http: httpx.AsyncClient, project_id: int, *, wait: float
) -> Run | None:
    """«Сверить с АТС»: `reconcile`, waiting for it at most `wait` seconds; a run that takes
    longer (days to catch up, a slow PBX) goes on in the background, and what is returned
    then says so (`Result.RUNNING`): its outcome shows on «Телефония» when it ends."""
    task = asyncio.create_task(reconcile(db, http, project_id))
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)
    try:
        return await asyncio.wait_for(asyncio.shield(task), wait)
    except TimeoutError:
        return Run(Result.RUNNING, 0, 0)


async def stop_background() -> None:
    """The app stops: the runs «Сверить с АТС» left going in this event loop are cancelled,
    each giving its lease back while the database is still open (else the project's next
    reconciliation, the one at start-up included, waits out `LEASE` as «Сверка уже идёт»)."""
    loop = asyncio.get_running_loop()
    mine = [task for task in _BACKGROUND if task.get_loop() is loop]
    for task in mine:
        task.cancel()
    await asyncio.gather(*mine, return_exceptions=True)


async def reconcile_all(db: Database, http: httpx.AsyncClient) -> None:
    """Reconcile every project with MegaFon connected; one project's trouble stops no other."""
    rows = await db.fetch_all(
        sa.select(pbx_connections.c.project_id).order_by(pbx_connections.c.project_id)
    )
    for row in rows:
        try:
            await reconcile(db, http, row["project_id"])
        except Exception:
            log.exception("reconciliation of project %s failed", row["project_id"])


async def run_forever(db: Database, http: httpx.AsyncClient, minutes: float) -> None:
    """At start-up and every `minutes` (PBX_SYNC_MINUTES); never stops for a failure."""
    while True:
        try:
            await reconcile_all(db, http)
        except Exception:  # a database that is busy now is no reason to stop trying later
            log.exception("reconciliation failed")
        await asyncio.sleep(minutes * 60)


async def health(db: Database, project_id: int, now: datetime | None = None) -> Health:
    """The last webhook, the last reconciliation, the calls restored in the last day."""
    now = now or clock.now()
    last_webhook = await db.fetch_val(
        sa.select(webhook_deliveries.c.received_at)
        .where(
            webhook_deliveries.c.project_id == project_id,
            webhook_deliveries.c.origin == inbox.Origin.WEBHOOK.value,
        )
        .order_by(webhook_deliveries.c.id.desc())
        .limit(1)
    )
    sync = await db.fetch_one(pbx_sync.select().where(pbx_sync.c.project_id == project_id))
    restored = await db.fetch_val(
        sa.select(sa.func.count())
        .select_from(calls)
        .where(calls.c.project_id == project_id, calls.c.restored_at >= now - timedelta(days=1))
    )
    sync = sync or {}
    lease_until = sync.get("lease_until")
    return Health(
        last_webhook_at=last_webhook,
        synced_until=sync.get("synced_until"),
        finished_at=sync.get("finished_at"),
        result=sync.get("result") or "",
        error=sync.get("error") or "",
        calls_read=sync.get("calls_read") or 0,
        calls_restored=sync.get("calls_restored") or 0,
        running=bool(sync.get("lease_owner")) and lease_until is not None and lease_until > now,
        restored_last_day=int(restored or 0),
    )
