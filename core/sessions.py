"""Sessions: who is signed in where, kept as rows so that they can be ended (issue 11).

A browser's cookie carries a random token; the `sessions` table keeps only its SHA-256, so a
copy of the database gives no one a working cookie. A session ends when its employee signs
out, when it has not been used for `Lifetime.idle`, when it is older than `Lifetime.absolute`,
and for all of an employee's sessions when their password, role or activity changes
(`core.employees`). An ended session's row is deleted; its employee's open live streams are
told through their topic (`core.events.user_topic`) and re-check their session at once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypedDict, cast

import sqlalchemy as sa

from core import clock, events
from core.db import Database, prepared
from core.tables import sessions

TOUCH_EVERY = timedelta(minutes=1)  # `last_seen_at` is written at most this often
USER_AGENT_LENGTH = 300


@dataclass(frozen=True)
class Lifetime:
    """How long a session lasts: `idle` since its last request, `absolute` since sign-in."""

    idle: timedelta = timedelta(hours=12)
    absolute: timedelta = timedelta(days=30)

    def alive(self, session: Session, now: datetime) -> bool:
        return (
            now - session["last_seen_at"] < self.idle
            and now - session["created_at"] < self.absolute
        )

    @property
    def touch_every(self) -> timedelta:
        return min(TOUCH_EVERY, self.idle / 4)


class Session(TypedDict):
    """A row of `sessions`: one signed-in browser."""

    id: int
    user_id: int
    project_id: int
    created_at: datetime
    last_seen_at: datetime
    address: str
    user_agent: str


_COLUMNS = [c for c in sessions.c if c.name != "token_hash"]
_BY_TOKEN = prepared(sa.select(*_COLUMNS).where(sessions.c.token_hash == sa.bindparam("hash")))
_BY_ID = prepared(sa.select(*_COLUMNS).where(sessions.c.id == sa.bindparam("id")))
_TOUCH = prepared(
    sessions.update()
    .where(sessions.c.id == sa.bindparam("id"))
    .values(last_seen_at=sa.bindparam("now"))
)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start(
    db: Database, user_id: int, project_id: int, *, address: str = "", user_agent: str = ""
) -> tuple[str, int]:
    """A new session for a signed-in employee: the token for their cookie, and its id."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    session_id: int = await db.execute(
        sessions.insert().values(
            token_hash=_hash(token),
            user_id=user_id,
            project_id=project_id,
            created_at=now,
            last_seen_at=now,
            address=address[:64],
            user_agent=user_agent[:USER_AGENT_LENGTH],
        )
    )
    return token, session_id


async def resolve(db: Database, token: str, lifetime: Lifetime) -> Session | None:
    """The open session behind a cookie's token, marked as used now; None when the token is
    unknown, ended or expired."""
    if not token:
        return None
    row = await db.fetch_one(_BY_TOKEN, {"hash": _hash(token)})
    if row is None:
        return None
    session = cast(Session, dict(row))
    now = clock.now()
    if not lifetime.alive(session, now):
        await db.execute_unawaited(sessions.delete().where(sessions.c.id == session["id"]))
        return None
    if now - session["last_seen_at"] >= lifetime.touch_every:
        # Losing this write in a crash only makes the session look idle a minute longer.
        await db.execute_unawaited(_TOUCH, {"id": session["id"], "now": now})
        session["last_seen_at"] = now
    return session


async def is_open(db: Database, session_id: int, lifetime: Lifetime) -> bool:
    """Whether a session still lets its browser in (asked by open live streams)."""
    row = await db.fetch_one(_BY_ID, {"id": session_id})
    return row is not None and lifetime.alive(cast(Session, row), clock.now())


async def end(db: Database, session_id: int) -> None:
    """End one session (signing out); its open streams close."""
    async with db.transaction():
        row = await db.fetch_one(_BY_ID, {"id": session_id})
        if row is None:
            return
        await db.execute(sessions.delete().where(sessions.c.id == session_id))
        db.announce(events.user_topic(row["project_id"], row["user_id"]))


async def end_one_of(db: Database, user_id: int, session_id: int) -> bool:
    """End one of an employee's sessions, chosen on their list; False when it is not theirs
    or has ended already."""
    async with db.transaction():
        row = await db.fetch_one(_BY_ID, {"id": session_id})
        if row is None or row["user_id"] != user_id:
            return False
        await end(db, session_id)
        return True


async def end_all(
    db: Database, project_id: int, user_id: int, *, except_id: int | None = None
) -> int:
    """End every session of an employee (but `except_id`, the one asking): with the current
    transaction, so a new password, role or deactivation and the end of the sessions commit
    together. Returns how many were ended."""
    query = sa.select(sa.func.count()).select_from(sessions).where(sessions.c.user_id == user_id)
    delete = sessions.delete().where(sessions.c.user_id == user_id)
    if except_id is not None:
        query = query.where(sessions.c.id != except_id)
        delete = delete.where(sessions.c.id != except_id)
    async with db.transaction():
        count: int = await db.fetch_val(query)
        if count:
            await db.execute(delete)
            db.announce(events.user_topic(project_id, user_id))
        return count


async def list_sessions(db: Database, user_id: int, lifetime: Lifetime) -> list[Session]:
    """An employee's open sessions, the most recently used first."""
    rows = await db.fetch_all(
        sa.select(*_COLUMNS)
        .where(sessions.c.user_id == user_id)
        .order_by(sessions.c.last_seen_at.desc(), sessions.c.id.desc())
    )
    now = clock.now()
    return [s for s in cast(list[Session], rows) if lifetime.alive(s, now)]


async def purge(db: Database, lifetime: Lifetime, now: datetime | None = None) -> None:
    """Delete the rows of expired sessions (they let no one in already). One statement, no
    transaction: housekeeping cancelled at shutdown leaves nothing half-done."""
    now = now or clock.now()
    await db.execute(
        sessions.delete().where(
            sa.or_(
                sessions.c.last_seen_at <= now - lifetime.idle,
                sessions.c.created_at <= now - lifetime.absolute,
            )
        )
    )


# Most specific first: Edge and Opera and Yandex say "Chrome" too, Chrome says "Safari".
_BROWSERS = [
    ("Edge", re.compile(r"Edg(?:e|A|iOS)?/(\d+)")),
    ("Opera", re.compile(r"(?:OPR|Opera)/(\d+)")),
    ("Яндекс Браузер", re.compile(r"YaBrowser/(\d+)")),
    ("Firefox", re.compile(r"(?:Firefox|FxiOS)/(\d+)")),
    ("Chrome", re.compile(r"(?:Chrome|CriOS)/(\d+)")),
    ("Safari", re.compile(r"Version/(\d+)[\d.]* (?:Mobile/\S+ )?Safari/")),
]
_SYSTEMS = [
    ("Android", re.compile(r"Android")),
    ("iPhone", re.compile(r"iPhone")),
    ("iPad", re.compile(r"iPad")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Mac OS X|Macintosh")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("Linux", re.compile(r"Linux|X11")),
]


def device(user_agent: str) -> str:
    """A browser's name and system as people know them (`Chrome 131, Windows`), from its
    User-Agent; empty when neither is recognised. Only a hint for a person reading the list."""
    browser = next(
        (f"{name} {m.group(1)}" for name, rx in _BROWSERS if (m := rx.search(user_agent))), ""
    )
    system = next((name for name, rx in _SYSTEMS if rx.search(user_agent)), "")
    return ", ".join(part for part in (browser, system) if part)
