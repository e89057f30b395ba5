"""Reading «Пропущенные»: the open queue longest-waiting first, who is calling back, the
recently closed items, and the admin's waiting thresholds (`missed_settings`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from core import audit, clock
from core.db import Database, prepared
from core.errors import ValidationError
from core.i18n import gettext as _
from core.tables import call_requests, calls, clients, missed_calls, missed_settings, users
from core.telephony.calls import employee_names
from core.telephony.protocol import Direction, EventType

QUEUE_LIMIT = 500  # a queue longer than this is a different problem; the count says how long
CLOSED_PAGE = 50
WARN_MINUTES, ALERT_MINUTES = 15, 60  # a project without a `missed_settings` row
MAX_MINUTES = 7 * 24 * 60
# A callback counts as "in progress" while its call has not ended, within these bounds.
REQUEST_FRESH = timedelta(minutes=2)  # a click-to-call the PBX has not reported yet
CALL_FRESH = timedelta(hours=1)  # a call whose end we never heard of is not ringing forever


@dataclass(frozen=True)
class Thresholds:
    """After `warn` minutes of waiting an item is amber, after `alert` red."""

    warn: int = WARN_MINUTES
    alert: int = ALERT_MINUTES


_OPEN = missed_calls.c.closed_at.is_(None)
_COUNT = prepared(
    sa.select(sa.func.count())
    .select_from(missed_calls)
    .where(missed_calls.c.project_id == sa.bindparam("p_project"), _OPEN)
)
_QUEUE = prepared(
    sa.select(missed_calls, clients.c.name.label("client_name"))
    .select_from(missed_calls.join(clients, clients.c.id == missed_calls.c.client_id))
    .where(missed_calls.c.project_id == sa.bindparam("p_project"), _OPEN)
    .order_by(missed_calls.c.opened_at, missed_calls.c.id)
    .limit(QUEUE_LIMIT)
)


async def open_count(db: Database, project_id: int) -> int:
    """How many clients wait for a callback (the nav's number)."""
    return int(await db.fetch_val(_COUNT, {"p_project": project_id}) or 0)


async def queue(db: Database, project_id: int) -> list[dict[str, Any]]:
    """The open items, longest waiting first, with the client's name and `calling_back`: who
    is calling the client now ("" when no one)."""
    rows = await db.fetch_all(_QUEUE, {"p_project": project_id})
    callers = await calling_back(db, project_id, [r["client_id"] for r in rows])
    return [{**r, "calling_back": callers.get(r["client_id"], "")} for r in rows]


async def calling_back(db: Database, project_id: int, client_ids: Sequence[int]) -> dict[int, str]:
    """Client id → the name (or PBX login) of whoever is calling them now: an outbound call
    that has not ended, or a click-to-call just asked for."""
    if not client_ids:
        return {}
    now = clock.now()
    wanted = set(client_ids)
    # The project's last hour of calls is a short range of (project_id, created_at, id); asking
    # by client instead walks every call of 500 clients (65 ms at a million calls, not 1 ms).
    going = [
        r
        for r in await db.fetch_all(
            sa.select(calls.c.client_id, calls.c.pbx_user).where(
                calls.c.project_id == project_id,
                calls.c.created_at > now - CALL_FRESH,
                calls.c.direction == Direction.OUT.value,
                calls.c.status == "",
                calls.c.last_event.not_in([EventType.COMPLETED.value, EventType.CANCELLED.value]),
            )
        )
        if r["client_id"] in wanted
    ]
    asked = await db.fetch_all(
        sa.select(call_requests.c.client_id, users.c.name, call_requests.c.pbx_user)
        .select_from(call_requests.outerjoin(users, users.c.id == call_requests.c.user_id))
        .where(
            call_requests.c.client_id.in_(list(client_ids)),
            call_requests.c.project_id == project_id,
            call_requests.c.state != "failed",
            call_requests.c.callid == "",  # with a callid, the call's own row says more
            call_requests.c.created_at > now - REQUEST_FRESH,
        )
    )
    names = await employee_names(db, project_id) if going else {}
    found = {r["client_id"]: r["name"] or r["pbx_user"] for r in asked}
    for r in going:
        login = r["pbx_user"]
        found[r["client_id"]] = names.get(login) or names.get(login.split("@")[0]) or login or "—"
    return found


async def closed(
    db: Database, project_id: int, *, before: int | None = None, limit: int = CLOSED_PAGE
) -> tuple[list[dict[str, Any]], int | None]:
    """Closed items, most recently closed first, with who closed them; the second value is
    the `before` of the next page. Keyset on `closed_at` then id: `before` is an item id."""
    query = (
        sa.select(
            missed_calls,
            clients.c.name.label("client_name"),
            users.c.name.label("closed_by_name"),
        )
        .select_from(
            missed_calls.join(clients, clients.c.id == missed_calls.c.client_id).outerjoin(
                users, users.c.id == missed_calls.c.closed_by_user_id
            )
        )
        .where(missed_calls.c.project_id == project_id, missed_calls.c.closed_at.is_not(None))
    )
    if before is not None:
        cursor = await db.fetch_one(
            sa.select(missed_calls.c.closed_at, missed_calls.c.id).where(
                missed_calls.c.id == before,
                missed_calls.c.project_id == project_id,
                missed_calls.c.closed_at.is_not(None),
            )
        )
        if cursor is None:
            return [], None
        query = query.where(
            sa.or_(
                missed_calls.c.closed_at < cursor["closed_at"],
                sa.and_(
                    missed_calls.c.closed_at == cursor["closed_at"],
                    missed_calls.c.id < cursor["id"],
                ),
            )
        )
    order = (missed_calls.c.closed_at.desc(), missed_calls.c.id.desc())
    rows = await db.fetch_all(query.order_by(*order).limit(limit + 1))
    names = await employee_names(db, project_id) if rows else {}
    found = []
    for r in rows[:limit]:
        login = r["closed_by_pbx_user"]
        who = r["closed_by_name"] or names.get(login) or names.get(login.split("@")[0]) or login
        found.append({**r, "closed_by": who})
    return found, (found[-1]["id"] if len(rows) > limit else None)


async def thresholds(db: Database, project_id: int) -> Thresholds:
    row = await db.fetch_one(
        missed_settings.select().where(missed_settings.c.project_id == project_id)
    )
    return Thresholds(row["warn_minutes"], row["alert_minutes"]) if row else Thresholds()


def _minutes(text: str, field: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise ValidationError.single(field, _("Укажите целое число минут.")) from None
    if not 1 <= value <= MAX_MINUTES:
        raise ValidationError.single(field, _("От 1 минуты до 7 дней (10080 минут)."))
    return value


async def save_thresholds(
    db: Database, project_id: int, who: audit.Actor, warn: str, alert: str
) -> Thresholds:
    """The admin's thresholds, checked; the change goes into «Журнал действий»."""
    new = Thresholds(_minutes(warn, "warn"), _minutes(alert, "alert"))
    if new.alert <= new.warn:
        raise ValidationError.single(
            "alert", _("Второй порог должен быть больше первого, например 15 и 60 минут.")
        )
    async with db.transaction():
        old = await thresholds(db, project_id)
        values = {"warn_minutes": new.warn, "alert_minutes": new.alert, "updated_at": clock.now()}
        await db.insert_ignore(
            missed_settings, {"project_id": project_id, **values}, keys=("project_id",)
        )
        await db.execute(
            missed_settings.update()
            .where(missed_settings.c.project_id == project_id)
            .values(values)
        )
        if old != new:
            await audit.record(
                db,
                project_id,
                who,
                audit.Action.MISSED_THRESHOLDS_CHANGED,
                details={"old": [old.warn, old.alert], "new": [new.warn, new.alert]},
            )
    return new


def waiting_tone(opened_at: datetime, limits: Thresholds, now: datetime | None = None) -> str:
    """`wait-ok`, `wait-warn` past the first threshold, `wait-alert` past the second."""
    minutes = ((now or clock.now()) - opened_at).total_seconds() / 60
    if minutes >= limits.alert:
        return "alert"
    return "warn" if minutes >= limits.warn else "ok"


def waiting_for(opened_at: datetime, now: datetime | None = None) -> str:
    """How long a client waits, in words: «5 мин», «2 ч 05 мин», «3 дн 4 ч»."""
    return _span(max(0, int(((now or clock.now()) - opened_at).total_seconds() // 60)))


def callback_time(seconds: int | None) -> str:
    """The time to callback in words («8 мин 12 с», «1 ч 05 мин»); "—" when no one reached
    the client."""
    if seconds is None:
        return "—"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return _("{minutes} мин {seconds:02d} с").format(minutes=minutes, seconds=rest)
    return _span(minutes)


def _span(minutes: int) -> str:
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return _("{days} дн {hours} ч").format(days=days, hours=hours)
    if hours:
        return _("{hours} ч {minutes:02d} мин").format(hours=hours, minutes=minutes)
    return _("{minutes} мин").format(minutes=minutes)
