"""«Аналитика»: a period of a project's calls counted by day, by hour of the week and by employee.

The calls are the journal's (`call_journal.where_clauses` with the same filter: `created_at` in
[start, end), the employee's PBX login), so every number here is a count the journal shows
for the same filter. An incoming call is answered when its status is `Success` and missed when
it ended any other way; one still going on (no status yet) is neither. Counting happens in SQL:
two GROUP BY queries over the (project_id, created_at) range (a month of a million-a-year
project, 81k calls, in 0.37–0.56 s on SQLite by the speed of the machine that day; see README).

Time to callback comes from «Пропущенные»: items closed by a call (not by hand) in the period,
from the first missed attempt to the call that reached the client."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from core.db import Database
from core.employees import Employee, list_employees
from core.tables import calls, missed_calls
from core.telephony.call_journal import PROJECT_TZ, JournalFilter, where_clauses
from core.telephony.protocol import CallStatus, Direction

CLOSED_BY_CALL = ("outbound", "inbound")  # `missed_calls.close_kind` of a callback
MAX_DAYS = 366  # the longest period the chart draws day by day


@dataclass
class Day:
    day: date
    answered: int = 0  # incoming, `Success`
    missed: int = 0  # incoming, ended any other way
    outgoing: int = 0

    @property
    def total(self) -> int:
        return self.answered + self.missed + self.outgoing


@dataclass
class EmployeeStats:
    """One row of the employees' table; `employee_id` is None for a PBX login nobody has."""

    name: str
    employee_id: int | None
    calls: int = 0
    answered: int = 0
    missed: int = 0
    outgoing: int = 0
    talk_seconds: int = 0
    waits: int = 0  # incoming calls with a known wait
    wait_seconds: int = 0
    ratings: int = 0
    rating_sum: int = 0
    callbacks: list[int] = field(default_factory=list)  # seconds to each callback

    @property
    def average_wait(self) -> float | None:
        return self.wait_seconds / self.waits if self.waits else None

    @property
    def average_rating(self) -> float | None:
        return self.rating_sum / self.ratings if self.ratings else None

    @property
    def median_callback(self) -> float | None:
        return statistics.median(self.callbacks) if self.callbacks else None


@dataclass
class Analytics:
    days: list[Day]
    heatmap: list[list[int]]  # incoming calls: [weekday, Monday first][hour], project time
    employees: list[EmployeeStats]
    team: EmployeeStats  # the totals of the rows above

    @property
    def answer_rate(self) -> float | None:
        """Answered incoming calls among those that ended, 0…1."""
        ended = self.team.answered + self.team.missed
        return self.team.answered / ended if ended else None

    @property
    def busiest(self) -> int:
        """The most incoming calls in one hour of the heatmap."""
        return max((n for row in self.heatmap for n in row), default=0)

    @property
    def tallest(self) -> int:
        """The most calls of one day of the chart."""
        return max((d.total for d in self.days), default=0)


def _utc_hour(db: Database) -> sa.ColumnElement[Any]:
    """`created_at` cut to its hour in UTC, the cheapest way each database has; Moscow time is a
    whole number of hours off UTC, so the hour becomes the project's in Python."""
    if db.dialect == "sqlite":  # SQLite keeps UTC as 'YYYY-MM-DD HH:MM:SS…' text
        return sa.func.substr(calls.c.created_at, 1, 13)
    return sa.func.date_trunc("hour", calls.c.created_at)


def _local(hour: str | datetime) -> datetime:
    if isinstance(hour, str):
        hour = datetime.strptime(hour, "%Y-%m-%d %H").replace(tzinfo=UTC)
    return hour.astimezone(PROJECT_TZ)


def _kind(direction: str, status: str) -> str:
    """'answered', 'missed', 'outgoing' or '' (incoming going on, or a direction unknown)."""
    if direction == Direction.OUT:
        return "outgoing"
    if direction != Direction.IN or not status:
        return ""
    return "answered" if status == CallStatus.SUCCESS else "missed"


def _days(start: datetime, end: datetime) -> list[Day]:
    first = start.astimezone(PROJECT_TZ).date()
    last = (end.astimezone(PROJECT_TZ) - timedelta(microseconds=1)).date()
    return [Day(first + timedelta(days=i)) for i in range((last - first).days + 1)]


async def _by_hour(
    db: Database, conditions: list[sa.ColumnElement[bool]]
) -> Sequence[Mapping[str, Any]]:
    hour = _utc_hour(db).label("hour")
    query = (
        sa.select(hour, calls.c.direction, calls.c.status, sa.func.count().label("n"))
        .where(*conditions)
        .group_by(hour, calls.c.direction, calls.c.status)
    )
    return await db.fetch_all(query)


async def _by_login(
    db: Database, conditions: list[sa.ColumnElement[bool]]
) -> Sequence[Mapping[str, Any]]:
    c = calls.c
    query = (
        sa.select(
            c.pbx_user,
            c.direction,
            c.status,
            sa.func.count().label("n"),
            sa.func.coalesce(sa.func.sum(c.duration), 0).label("talk"),
            sa.func.count(c.wait).label("waits"),
            sa.func.coalesce(sa.func.sum(c.wait), 0).label("wait"),
            sa.func.count(c.rating).label("ratings"),
            sa.func.coalesce(sa.func.sum(c.rating), 0).label("rating"),
        )
        .where(*conditions)
        .group_by(c.pbx_user, c.direction, c.status)
    )
    return await db.fetch_all(query)


async def _callbacks(
    db: Database, project_id: int, f: JournalFilter
) -> Sequence[Mapping[str, Any]]:
    m = missed_calls.c
    conditions = [
        m.project_id == project_id,
        m.close_kind.in_(CLOSED_BY_CALL),
        m.callback_seconds.is_not(None),
    ]
    if f.start is not None:
        conditions.append(m.closed_at >= f.start)
    if f.end is not None:
        conditions.append(m.closed_at < f.end)
    if f.pbx_user == "":
        conditions.append(sa.false())
    elif f.pbx_user is not None:
        conditions.append(m.closed_by_pbx_user.in_(_logins(f.pbx_user)))
    query = sa.select(m.closed_by_pbx_user, m.callback_seconds).where(*conditions)
    return await db.fetch_all(query)


def _logins(pbx_user: str) -> list[str]:
    """The PBX logins the journal counts as this employee's (with and without the domain)."""
    return sorted({pbx_user, pbx_user.split("@", 1)[0]})


class _Staff:
    """Rows of the employees' table, found by the PBX login a call carries."""

    def __init__(self, staff: Sequence[Employee]) -> None:
        self.rows: dict[int | str, EmployeeStats] = {}
        self.by_login: dict[str, EmployeeStats] = {}
        for e in staff:
            if not e["pbx_user"]:
                continue
            row = self.rows[e["id"]] = EmployeeStats(e["name"], e["id"])
            self.by_login[e["pbx_user"]] = row
        for e in staff:  # a call may carry the login without the domain
            if e["pbx_user"]:
                self.by_login.setdefault(e["pbx_user"].split("@", 1)[0], self.rows[e["id"]])

    def of(self, login: str) -> EmployeeStats:
        if login in self.by_login:
            return self.by_login[login]
        if login not in self.rows:
            self.rows[login] = EmployeeStats(login, None)
        return self.rows[login]

    def with_calls(self, keep_idle: bool) -> list[EmployeeStats]:
        rows = [r for r in self.rows.values() if keep_idle or r.calls or r.callbacks]
        return sorted(rows, key=lambda r: (r.employee_id is None, -r.calls, r.name))


async def analytics(db: Database, project_id: int, f: JournalFilter) -> Analytics:
    """The project's calls in `f`'s period (bounded on both sides), of `f`'s employee if any."""
    assert f.start is not None and f.end is not None, "analytics needs a period"
    only = JournalFilter(f.start, f.end, pbx_user=f.pbx_user)  # analytics counts every status
    conditions = await where_clauses(db, project_id, only)
    days = _days(f.start, f.end)
    by_day = {d.day: d for d in days}
    heatmap = [[0] * 24 for _ in range(7)]
    for row in await _by_hour(db, conditions):
        moment = _local(row["hour"])
        kind = _kind(row["direction"], row["status"])
        if row["direction"] == Direction.IN:
            heatmap[moment.weekday()][moment.hour] += row["n"]
        day = by_day.get(moment.date())
        if day is not None and kind:
            setattr(day, kind, getattr(day, kind) + row["n"])

    staff = _Staff(await list_employees(db, project_id))
    team = EmployeeStats("", None)
    for row in await _by_login(db, conditions):
        kind = _kind(row["direction"], row["status"])
        for stats in (staff.of(row["pbx_user"]), team):
            stats.calls += row["n"]
            stats.talk_seconds += row["talk"]
            stats.ratings += row["ratings"]
            stats.rating_sum += row["rating"]
            if kind:
                setattr(stats, kind, getattr(stats, kind) + row["n"])
            if row["direction"] == Direction.IN:
                stats.waits += row["waits"]
                stats.wait_seconds += row["wait"]
    for row in await _callbacks(db, project_id, f):
        staff.of(row["closed_by_pbx_user"]).callbacks.append(row["callback_seconds"])
        team.callbacks.append(row["callback_seconds"])
    return Analytics(days, heatmap, staff.with_calls(keep_idle=f.pbx_user is None), team)
