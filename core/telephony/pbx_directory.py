"""The PBX's employees as last read (`pbx_users`, `pbx_user_lists`), for «Сотрудники».

The list is read from the PBX (`PbxClient.users`, every page) when an admin asks («Обновить из
АТС», «Проверить подключение»), and when «Сотрудники» is opened and the list is older than
`STALE_AFTER`: then the page waits at most `PAGE_WAIT` seconds (`Refresher`), and a slow or
absent PBX leaves the last list on the page with the reason in plain words, while the reading
goes on in the background. A list replaces the previous one whole, in one transaction.

From the list: suggestions for the employee form's PBX field (`search`), employees whose PBX
login is gone (`missing`, only against a list the PBX did give), and proposed matches for
every employee by e-mail, name, or the extension or direct number they already have
(`propose`), which an admin confirms (`assign`, journaled as an edit in «Сотрудники» is).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

import httpx
import sqlalchemy as sa

from core import audit, clock, phones
from core.db import Database
from core.employees import CallMethod, Employee, call_through_megafon, list_employees
from core.errors import ValidationError
from core.i18n import gettext as _
from core.search import normalize_text
from core.tables import pbx_connections, pbx_user_lists, pbx_users
from core.telephony import connection
from core.telephony.pbx_client import PbxError, PbxNotConnected, PbxUser
from core.telephony.protocol import pbx_login

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=5)  # an older list is read again when «Сотрудники» opens
PAGE_WAIT = 2.0  # seconds a page waits for the PBX before it shows the last list
SUGGESTIONS = 20  # PBX users offered at once under the employee form's field


@dataclass(frozen=True)
class Directory:
    """A project's PBX users as last read: `fetched_at` is the last list the PBX gave (None:
    never), `error` why the last reading failed ("" when it did not); `pending` while a
    reading goes on in the background."""

    connected: bool
    users: list[PbxUser]
    fetched_at: datetime | None
    error: str
    pending: bool = False

    def find(self, pbx_user: str | None) -> PbxUser | None:
        """The PBX user an employee's «Логин, внутренний номер или прямой номер в АТС» names:
        a login (bare or `login@domain`, as the PBX's webhooks say it), an extension or a
        direct number."""
        wanted = (pbx_user or "").strip()
        if not wanted:
            return None
        logins, extensions, numbers = self._index
        number = phones.from_pbx(wanted)
        return (
            logins.get(pbx_login(wanted))
            or extensions.get(wanted)
            or (numbers.get(number) if number else None)
        )

    @functools.cached_property
    def _index(self) -> tuple[dict[str, PbxUser], dict[str, PbxUser], dict[str, PbxUser]]:
        """The users by lowercase login, by extension and by canonical direct number."""
        logins: dict[str, PbxUser] = {}
        extensions: dict[str, PbxUser] = {}
        numbers: dict[str, PbxUser] = {}
        for user in self.users:
            logins.setdefault(user.login.lower(), user)
            if user.ext:
                extensions.setdefault(user.ext, user)
            if number := phones.from_pbx(user.telnum):
                numbers.setdefault(number, user)
        return logins, extensions, numbers


async def read(db: Database, project_id: int) -> Directory:
    """The list as stored (no PBX is asked)."""
    async with db.reading():
        connected = await db.fetch_val(
            sa.select(pbx_connections.c.project_id).where(
                pbx_connections.c.project_id == project_id
            )
        )
        state = await db.fetch_one(
            pbx_user_lists.select().where(pbx_user_lists.c.project_id == project_id)
        )
        rows = await db.fetch_all(
            pbx_users.select()
            .where(pbx_users.c.project_id == project_id)
            .order_by(pbx_users.c.name, pbx_users.c.login)
        )
    listed = [
        PbxUser(r["login"], r["name"], r["ext"], telnum=r["telnum"], email=r["email"]) for r in rows
    ]
    return Directory(
        connected=connected is not None,
        users=listed,
        fetched_at=state["fetched_at"] if state else None,
        error=state["error"] if state else "",
    )


async def store(db: Database, project_id: int, listed: Iterable[PbxUser]) -> None:
    """The PBX's answer becomes the project's list, replacing the previous one whole."""
    rows: dict[str, dict[str, object]] = {}
    for user in listed:
        rows.setdefault(
            user.login.lower(),
            {
                "project_id": project_id,
                "login": user.login[:200],
                "name": user.name[:200],
                "ext": user.ext[:40],
                "telnum": user.telnum[:40],
                "email": user.email[:254],
            },
        )
    async with db.transaction():
        await db.lock(f"pbx_users:{project_id}")
        await db.execute(pbx_users.delete().where(pbx_users.c.project_id == project_id))
        if rows:
            await db.upsert(pbx_users, list(rows.values()), keys=("project_id", "login"))
        await db.upsert(
            pbx_user_lists,
            {"project_id": project_id, "fetched_at": clock.now(), "error": ""},
            keys=("project_id",),
        )


async def failed(db: Database, project_id: int, reason: str) -> None:
    """The PBX did not give its list: the last one stays, with the reason beside it."""
    async with db.transaction():
        await db.lock(f"pbx_users:{project_id}")
        await db.insert_ignore(pbx_user_lists, {"project_id": project_id}, keys=("project_id",))
        await db.execute(
            pbx_user_lists.update()
            .where(pbx_user_lists.c.project_id == project_id)
            .values(error=reason)
        )


async def refresh(db: Database, http: httpx.AsyncClient, project_id: int) -> Directory:
    """Read the PBX's employees now and keep them; a failure is kept as the list's error
    (and raised: `PbxNotConnected` when MegaFon is not connected)."""
    await _keep(db, project_id, connection.read_users(db, http, project_id))
    return await read(db, project_id)


async def check_connection(db: Database, http: httpx.AsyncClient, project_id: int) -> list[PbxUser]:
    """«Проверить подключение» on «Телефония» (`connection.check`): the employees the PBX gave
    become the list too."""
    return await _keep(db, project_id, connection.check(db, http, project_id))


async def _keep(db: Database, project_id: int, reading: Awaitable[list[PbxUser]]) -> list[PbxUser]:
    """The employees `reading` gets from the PBX become the list; its failure (but MegaFon not
    being connected) becomes the list's error, and is raised."""
    try:
        listed = await reading
    except PbxNotConnected:
        raise
    except PbxError as e:
        await failed(db, project_id, e.message)
        raise
    await store(db, project_id, listed)
    return listed


class Refresher:
    """Keeps each project's list fresh for the pages that show it, never keeping a page
    waiting longer than `wait` seconds: one reading per project at a time, and a project
    this process read (or failed to read) less than `stale_after` ago is not read again
    until an admin asks. Opened with the app; `close` stops what still runs."""

    def __init__(
        self,
        db: Database,
        http: httpx.AsyncClient,
        *,
        stale_after: timedelta = STALE_AFTER,
        wait: float = PAGE_WAIT,
    ) -> None:
        self.db, self.http, self.stale_after, self.wait = db, http, stale_after, wait
        self._running: dict[int, asyncio.Task[None]] = {}
        self._tried: dict[int, float] = {}

    async def current(self, project_id: int) -> Directory:
        """The list for a page: read again first when it is stale, waiting at most `wait`."""
        directory = await read(self.db, project_id)
        if not directory.connected or not self._due(project_id, directory):
            return directory
        task = self._running.get(project_id) or self._start(project_id)
        done, _pending = await asyncio.wait({task}, timeout=self.wait)
        if not done:
            return replace(directory, pending=True)
        return await read(self.db, project_id)

    async def now(self, project_id: int) -> Directory:
        """«Обновить из АТС»: read the PBX now (its error, if any, is kept in the list)."""
        self._tried[project_id] = time.monotonic()
        with contextlib.suppress(PbxError):
            await refresh(self.db, self.http, project_id)
        return await read(self.db, project_id)

    def _due(self, project_id: int, directory: Directory) -> bool:
        if project_id in self._running:
            return True
        fetched = directory.fetched_at
        if fetched is not None and clock.now() - fetched < self.stale_after and not directory.error:
            return False
        tried = self._tried.get(project_id)
        return tried is None or time.monotonic() - tried >= self.stale_after.total_seconds()

    def _start(self, project_id: int) -> asyncio.Task[None]:
        self._tried[project_id] = time.monotonic()
        task = asyncio.create_task(self._refresh(project_id))
        self._running[project_id] = task
        task.add_done_callback(lambda _task: self._running.pop(project_id, None))
        return task

    async def _refresh(self, project_id: int) -> None:
        try:
            await refresh(self.db, self.http, project_id)
        except PbxError:
            pass  # kept as the list's error, shown on the page (or MegaFon is not connected)
        except Exception:  # the page shows the last list; the log says why no new one came
            log.exception("could not read the PBX's employees of project %s", project_id)

    async def close(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def search(directory: Directory, text: str, limit: int = SUGGESTIONS) -> list[PbxUser]:
    """PBX users whose name, login, extension, direct number or e-mail contain every word of
    `text` (in any case, ё as е, in any order); all of them (up to `limit`) for no text."""
    words = normalize_text(text).split()
    found = []
    for user in directory.users:
        haystack = normalize_text(" ".join((user.name, user.login, user.ext, user.telnum)))
        haystack += " " + user.email.lower()
        if all(word in haystack for word in words):
            found.append(user)
            if len(found) >= limit:
                break
    return found


async def missing(db: Database, project_id: int) -> set[int]:
    """The employees calling through MegaFon whose PBX login, extension or direct number is
    not on the PBX's last list; none while the PBX has never given a list."""
    directory = await read(db, project_id)
    if directory.fetched_at is None:
        return set()
    rows = await list_employees(db, project_id)
    return {
        e["id"]
        for e in rows
        if e["call_method"] == CallMethod.MEGAFON
        and e["pbx_user"]
        and directory.find(e["pbx_user"]) is None
    }


class Reason(StrEnum):
    """Why a PBX user is proposed for an employee."""

    SAME = "same"  # the employee's field already names them
    EMAIL = "email"
    NAME = "name"
    NUMBER = "number"  # the employee's field holds their extension or direct number


def reason_label(reason: str) -> str:
    labels: dict[str, str] = {
        Reason.SAME: _("уже сопоставлен"),
        Reason.EMAIL: _("по e-mail"),
        Reason.NAME: _("по имени"),
        Reason.NUMBER: _("по внутреннему номеру"),
    }
    return labels.get(reason, reason)


@dataclass(frozen=True)
class Proposal:
    """An employee and the PBX user proposed for them (None: nobody fits), and why."""

    employee: Employee
    user: PbxUser | None
    reason: Reason | None


def _name_key(name: str) -> str:
    """«Иванов Иван», «иван  ИВАНОВ» and «Иван Иванов» are one name; so are е and ё."""
    return " ".join(sorted(normalize_text(name).split()))


def propose(employees: Iterable[Employee], directory: Directory) -> list[Proposal]:
    """A PBX user for each active employee: the one their field already names, else by the
    same e-mail, else by the same name, else by the extension or direct number in their
    field. A PBX user is proposed to one employee only, and only a match that no other PBX
    user shares (two «Иван Иванов» on the PBX propose neither)."""
    staff = [e for e in employees if e["is_active"]]
    taken: set[str] = set()
    chosen: dict[int, tuple[PbxUser, Reason]] = {}
    for e in staff:
        same = directory.find(e["pbx_user"])
        if same is not None and pbx_login(e["pbx_user"] or "") == same.login.lower():
            chosen[e["id"]] = (same, Reason.SAME)
            taken.add(same.login.lower())

    def only(found: list[PbxUser]) -> PbxUser | None:
        free = [u for u in found if u.login.lower() not in taken]
        return free[0] if len(found) == 1 and free else None

    by_email: dict[str, list[PbxUser]] = {}
    by_name: dict[str, list[PbxUser]] = {}
    for u in directory.users:
        if u.email:
            by_email.setdefault(u.email.lower(), []).append(u)
        if u.name:
            by_name.setdefault(_name_key(u.name), []).append(u)

    def by_number(e: Employee) -> list[PbxUser]:
        found = directory.find(e["pbx_user"])
        return [found] if found is not None else []

    rules: list[tuple[Reason, Callable[[Employee], list[PbxUser]]]] = [
        (Reason.EMAIL, lambda e: by_email.get(e["email"].lower(), [])),
        (Reason.NAME, lambda e: by_name.get(_name_key(e["name"]), [])),
        (Reason.NUMBER, by_number),
    ]
    for reason, candidates in rules:
        for e in staff:
            if e["id"] in chosen:
                continue
            user = only(candidates(e))
            if user is not None:
                chosen[e["id"]] = (user, reason)
                taken.add(user.login.lower())
    return [
        Proposal(e, *chosen[e["id"]]) if e["id"] in chosen else Proposal(e, None, None)
        for e in staff
    ]


async def assign(
    db: Database,
    project_id: int,
    choices: Mapping[int, str],
    *,
    who: audit.Actor | None = None,
) -> int:
    """«Сохранить» on «Сопоставить с АТС»: each chosen employee calls through MegaFon with the
    chosen PBX login (bare, as the PBX wants it back). Every login must be on the PBX's list;
    each change is journaled as an edit in «Сотрудники» is. How many employees changed."""
    directory = await read(db, project_id)
    logins = {u.login.lower() for u in directory.users}
    errors = {
        f"pbx_user_{employee_id}": _("Такого сотрудника нет в списке АТС.")
        for employee_id, login in choices.items()
        if login.strip().lower() not in logins
    }
    if errors:
        raise ValidationError(errors)
    chosen = {employee_id: login.strip().lower() for employee_id, login in choices.items()}
    return await call_through_megafon(db, project_id, chosen, who=who)
