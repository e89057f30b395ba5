"""«Звонки»: every call of a project, newest first, filtered and keyset-paged, and its export.

A filter is a `JournalFilter`; `page()` reads one page of the journal, `rows_for_export()` walks
the whole filtered journal in keyset batches (a million calls never sit in memory), and
`csv_chunks()` / `xlsx_chunks()` turn those batches into files Russian Excel opens, streamed.

Periods are computed in the project's time (Moscow) and compare with `created_at`, the moment the
CRM first heard of the call; the journal shows when it started."""

from __future__ import annotations

import contextlib
import csv
import io
import queue
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum
from typing import Any

import anyio.to_thread
import sqlalchemy as sa
import xlsxwriter

from core import events, paging, phones, search
from core.db import Database
from core.i18n import gettext as _
from core.tables import calls, clients, recordings, search_terms
from core.telephony.calls import Call, direction_label, employee_names, status_label
from core.telephony.protocol import CallStatus, Direction

PROJECT_TZ = timezone(timedelta(hours=3))  # the teams we serve read times in Moscow time
PAGE_SIZE = 50
EXPORT_BATCH = 1000
XLSX_CHUNK = 256 * 1024  # bytes of the zip handed to the response at a time
MAX_NAME_MATCHES = 500  # clients a name search looks at (their calls, newest first)
CALL_LOGGED = "call.logged"  # a call was added or changed: open journals show its row


class Period(StrEnum):
    TODAY = "today"
    YESTERDAY = "yesterday"
    WEEK = "week"
    MONTH = "month"


def period_label(period: str) -> str:
    labels: dict[str, str] = {
        Period.TODAY: _("Сегодня"),
        Period.YESTERDAY: _("Вчера"),
        Period.WEEK: _("Неделя"),
        Period.MONTH: _("Месяц"),
    }
    return labels.get(period, "")


def journal_topic(project_id: int) -> str:
    """What an open «Звонки» page follows besides its employee's popups."""
    return f"{project_id}:calls"


@dataclass(frozen=True)
class JournalFilter:
    """What the journal shows: times as [start, end) in UTC, the rest as the columns hold them."""

    start: datetime | None = None
    end: datetime | None = None
    direction: str = ""  # a `Direction`, or "" for both
    status: str = ""  # a `CallStatus`, or "" for any
    pbx_user: str | None = None  # the employee's PBX login; "" (no login) matches no call
    client_id: int | None = None
    search: str = ""  # a number in any format, or (part of) a client's name


def period_bounds(
    period: str, date_from: date | None, date_to: date | None, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """The [start, end) of a named period (calendar week and month) or of the days from
    `date_from` to `date_to` inclusive, in the project's time; (None, None) for all time."""
    today = now.astimezone(PROJECT_TZ).date()
    first: date | None
    last: date | None
    if period == Period.TODAY:
        first = last = today
    elif period == Period.YESTERDAY:
        first = last = today - timedelta(days=1)
    elif period == Period.WEEK:
        first, last = today - timedelta(days=today.weekday()), today
    elif period == Period.MONTH:
        first, last = today.replace(day=1), today
    else:
        first, last = date_from, date_to

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time(), PROJECT_TZ)

    return (
        midnight(first) if first else None,
        midnight(last + timedelta(days=1)) if last else None,
    )


# The days a filter may name: the journal's calls are all within these (and 31.12.9999 + 1 day
# is no date at all).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


def _day(text: str) -> date | None:
    """A day as a date field sends it (2026-03-15) or as people write it (15.03.2026)."""
    text = text.strip()
    for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def _written(day: date) -> str:
    """15.03.2026, as people write it (strftime leaves a year before 1000 unpadded)."""
    return f"{day.day:02}.{day.month:02}.{day.year:04}"


def read_dates(date_from: str, date_to: str) -> tuple[date | None, date | None, str]:
    """The days of the filter's «С» and «По» (either may be empty), or the reason they cannot
    apply: a day that is not one, or a period that ends before it starts. On such an error
    neither day applies (the other filters still do) and the reason is shown by the form."""
    first, last = _day(date_from), _day(date_to)
    for text, day in ((date_from, first), (date_to, last)):
        if text.strip() and day is None:
            return (
                None,
                None,
                _("Не удалось прочитать дату «{text}»: укажите её как ДД.ММ.ГГГГ.").format(
                    text=text.strip()[:40]
                ),
            )
    for day in (first, last):
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            return (
                None,
                None,
                _("Дата {day} вне журнала: укажите день с {first} по {last}.").format(
                    day=_written(day), first=_written(FIRST_DAY), last=_written(LAST_DAY)
                ),
            )
    if first and last and first > last:
        return None, None, _("Дата «С» позже даты «По»: период не применён.")
    return first, last, ""


def _phone_forms(digits: str) -> list[str]:
    """The ways the PBX may have written a canonical number (`7…`, `8…`, `+7…`)."""
    forms = [digits, "+" + digits]
    if len(digits) == 11 and digits.startswith("7"):
        forms.append("8" + digits[1:])
    return forms


async def where_clauses(
    db: Database, project_id: int, f: JournalFilter
) -> list[sa.ColumnElement[bool]]:
    """The filter as conditions on `calls`; «Аналитика» counts with the very same ones."""
    return [calls.c.project_id == project_id, *await _filter_clauses(db, project_id, f)]


async def _filter_clauses(
    db: Database, project_id: int, f: JournalFilter
) -> list[sa.ColumnElement[bool]]:
    """The filter's conditions but the project's own."""
    conditions: list[sa.ColumnElement[bool]] = []
    if f.start is not None:
        conditions.append(calls.c.created_at >= f.start)
    if f.end is not None:
        conditions.append(calls.c.created_at < f.end)
    if f.direction:
        conditions.append(calls.c.direction == f.direction)
    if f.status:
        conditions.append(calls.c.status == f.status)
    if f.pbx_user == "":
        conditions.append(sa.false())
    elif f.pbx_user is not None:
        logins = {f.pbx_user, f.pbx_user.split("@", 1)[0]}
        conditions.append(calls.c.pbx_user.in_(sorted(logins)))
    if f.client_id is not None:
        conditions.append(calls.c.client_id == f.client_id)
    text = f.search.strip()
    if text:
        digits = phones.normalize(text)
        if digits:
            conditions.append(calls.c.phone.in_(_phone_forms(digits)))
        else:
            conditions.append(calls.c.client_id.in_(await _clients_named(db, project_id, text)))
    return conditions


async def _clients_named(db: Database, project_id: int, text: str) -> list[int]:
    """Clients whose name, number or variables start with `text` (the clients list's search)."""
    bounds = search.query_range(text)
    if bounds is None:
        return []
    rows = await db.fetch_all(
        sa.select(search_terms.c.client_id)
        .where(
            search_terms.c.project_id == project_id,
            search_terms.c.term >= bounds[0],
            search_terms.c.term < bounds[1],
        )
        .distinct()
        .limit(MAX_NAME_MATCHES)
    )
    return [r["client_id"] for r in rows]


async def _period_ids(
    db: Database, project_id: int, f: JournalFilter
) -> list[sa.ColumnElement[bool]]:
    """Where the period's calls lie in id order: between the lowest and the highest id with
    `created_at` in it, read from the (project_id, created_at, id) index alone. A page then
    walks the project's calls newest first from the period's newest one and stops when it is
    full, instead of sorting every call of the period by id (a month: 80,000 at a million a
    year). The period's own conditions stay; this range only says where to look."""
    if f.start is None and f.end is None:
        return []
    period = [calls.c.project_id == project_id]
    if f.start is not None:
        period.append(calls.c.created_at >= f.start)
    if f.end is not None:
        period.append(calls.c.created_at < f.end)
    # With the count, PostgreSQL reads the range; for a lone MIN and MAX it would walk the
    # primary key from either end instead, through every call outside the period (1.6 s).
    ids = sa.select(
        sa.func.count().label("calls"),
        sa.func.min(calls.c.id).label("low"),
        sa.func.max(calls.c.id).label("high"),
    )
    row = await db.fetch_one(ids.where(*period))
    if row is None or not row["calls"]:
        return [sa.false()]
    return [calls.c.id >= row["low"], calls.c.id <= row["high"]]


async def _page_clauses(
    db: Database, project_id: int, f: JournalFilter, *, before: int | None, limit: int
) -> list[sa.ColumnElement[bool]]:
    """The conditions of one page: the filter's, where its period lies in id order, and for a
    search by name the page's very ids.

    A name matches up to `MAX_NAME_MATCHES` clients, and regular callers among them have
    dozens of calls each: sorting all their calls as rows costs a read of each (0.2 s at a
    million). Their newest ids come first from the (client_id, id) index alone, without the
    project's condition (the clients are the project's, and so are their calls); the rows
    are then read by id, the project's condition included."""
    rest = await _filter_clauses(db, project_id, f)
    conditions = [calls.c.project_id == project_id, *rest, *await _period_ids(db, project_id, f)]
    if (text := f.search.strip()) and not phones.normalize(text):
        newest = sa.select(calls.c.id).where(*conditions[1:]).order_by(calls.c.id.desc())
        if before is not None:
            newest = newest.where(calls.c.id < before)
        ids = [r["id"] for r in await db.fetch_all(newest.limit(limit + 1))]
        conditions.append(calls.c.id.in_(ids))
    return conditions


def _listing(conditions: list[sa.ColumnElement[bool]]) -> sa.Select[Any]:
    return (
        sa.select(calls, clients.c.name.label("client_name"))
        .select_from(calls.outerjoin(clients, clients.c.id == calls.c.client_id))
        .where(*conditions)
    )


def _shown(conditions: list[sa.ColumnElement[bool]]) -> sa.Select[Any]:
    """`_listing` with the state of the CRM's copy of each recording, for the page's player."""
    return (
        _listing(conditions)
        .add_columns(
            recordings.c.state.label("recording_state"),
            recordings.c.last_error.label("recording_error"),
        )
        .outerjoin(recordings, recordings.c.call_id == calls.c.id)
    )


@dataclass(frozen=True)
class JournalPage:
    rows: list[dict[str, Any]]  # calls with `client_name` and `employee`
    next_before: int | None


def _with_names(
    rows: Sequence[Mapping[str, Any]], staff: Mapping[str, str]
) -> list[dict[str, Any]]:
    return [
        {
            **row,
            "employee": staff.get(row["pbx_user"])
            or staff.get(row["ext"])
            or row["pbx_user"]
            or row["ext"],
        }
        for row in rows
    ]


async def page(
    db: Database,
    project_id: int,
    f: JournalFilter,
    *,
    before: int | None = None,
    limit: int = PAGE_SIZE,
) -> JournalPage:
    """One page of the journal, newest call first; `next_before` continues it."""
    conditions = await _page_clauses(db, project_id, f, before=before, limit=limit)
    rows, next_before = await paging.newest_first(
        db, _shown(conditions), calls.c.id, before=before, limit=limit
    )
    return JournalPage(_with_names(rows, await employee_names(db, project_id)), next_before)


async def first_page_query(db: Database, project_id: int, f: JournalFilter) -> sa.Select[Any]:
    """The statement `page` runs for the first page (benchmarks read its query plan)."""
    conditions = await _page_clauses(db, project_id, f, before=None, limit=PAGE_SIZE)
    return _shown(conditions).order_by(calls.c.id.desc()).limit(PAGE_SIZE + 1)


async def journal_row(
    db: Database, project_id: int, call_id: int, f: JournalFilter
) -> dict[str, Any] | None:
    """The call as a journal row, or None when it is not this project's or the filter hides it."""
    conditions = [*await where_clauses(db, project_id, f), calls.c.id == call_id]
    row = await db.fetch_one(_shown(conditions))
    if row is None:
        return None
    return _with_names([row], await employee_names(db, project_id))[0]


async def rows_for_export(
    db: Database, project_id: int, f: JournalFilter, batch: int = EXPORT_BATCH
) -> AsyncIterator[list[dict[str, Any]]]:
    """The whole filtered journal, newest first, `batch` rows at a time (one query each)."""
    staff = await employee_names(db, project_id)
    conditions = [*await where_clauses(db, project_id, f), *await _period_ids(db, project_id, f)]
    before: int | None = None
    while True:
        rows, before = await paging.newest_first(
            db, _listing(conditions), calls.c.id, before=before, limit=batch
        )
        if rows:
            yield _with_names(rows, staff)
        if before is None:
            return


async def announce(db: Database, project_id: int, call_id: int) -> None:
    """Open journals of the project show the call's row anew (inside the caller's transaction)."""
    await events.emit(db, project_id, journal_topic(project_id), CALL_LOGGED, {"call_id": call_id})


# Export: the same columns in CSV and XLSX


def headers() -> list[str]:
    return [
        _("Время"),
        _("Направление"),
        _("Клиент"),
        _("Номер"),
        _("Сотрудник"),
        _("Статус"),
        _("Ожидание, с"),
        _("Разговор, с"),
        _("Оценка"),
        _("Запись"),
        "callid",
    ]


def call_time(call: Mapping[str, Any]) -> datetime:
    """When the call happened: its start as the PBX reports it, else when we heard of it."""
    moment: datetime = call["started_at"] or call["incoming_at"] or call["created_at"]
    return moment


def _cells(row: Mapping[str, Any]) -> list[Any]:
    return [
        call_time(row).astimezone(PROJECT_TZ).strftime("%d.%m.%Y %H:%M:%S"),
        direction_label(row["direction"]),
        row["client_name"] or "",
        phones.from_pbx(row["phone"]) or row["phone"],
        row["employee"],
        status_label(_as_call(row)),
        row["wait"],
        row["duration"],
        row["rating"],
        row["record_link"],
        row["callid"],
    ]


def _as_call(row: Mapping[str, Any]) -> Call:
    return row  # type: ignore[return-value]  # a journal row is a call with two more keys


def _safe(value: Any) -> Any:
    """Text that a spreadsheet would take for a formula gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


async def csv_chunks(batches: AsyncIterator[list[dict[str, Any]]]) -> AsyncIterator[bytes]:
    """CSV for Russian Excel: UTF-8 with a BOM, `;` between fields, a header row; one chunk
    per batch of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(headers())
    yield ("\ufeff" + buffer.getvalue()).encode()
    async for rows in batches:
        buffer.seek(0)
        buffer.truncate()
        for row in rows:
            writer.writerow(["" if v is None else _safe(v) for v in _cells(row)])
        yield buffer.getvalue().encode()


class _Pipe:
    """A file XlsxWriter's zip is written into, in one thread, and read in chunks from
    another; at most `depth` chunks wait, so a slow reader slows the writer, not the memory."""

    def __init__(self, chunk: int, depth: int = 4) -> None:
        self.chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(depth)
        self.buffer = bytearray()
        self.chunk = chunk
        self.gone = threading.Event()  # the reader stopped: the writer gives up
        self.refused = False

    def write(self, data: bytes) -> int:
        self.buffer += data
        if len(self.buffer) >= self.chunk:
            self._put(bytes(self.buffer))
            self.buffer.clear()
        return len(data)

    def flush(self) -> None:
        """Nothing: the buffer goes out by size and at `end`."""

    def tell(self) -> int:
        raise OSError("a pipe has no position")  # zipfile then writes sizes after the data

    def end(self, error: BaseException | None = None) -> None:
        if self.buffer and error is None:
            self._put(bytes(self.buffer))
        self._put(error)

    def _put(self, item: bytes | BaseException | None) -> None:
        while not self.gone.is_set():
            with contextlib.suppress(queue.Full):
                self.chunks.put(item, timeout=0.1)
                return
        if not self.refused:  # once, to stop the writer; zipfile's clean-up then writes nowhere
            self.refused = True
            raise OSError("the download was abandoned")


async def xlsx_chunks(batches: AsyncIterator[list[dict[str, Any]]]) -> AsyncIterator[bytes]:
    """The rows as an XLSX workbook, in chunks as it is compressed.

    XlsxWriter writes a workbook only when it is closed (the zip holds the finished sheet,
    which opens with the sheet's size), so the first byte comes after the last row has been
    written. Until then memory stays flat: constant memory mode keeps one row and writes the
    sheet to a temporary file as rows arrive; then the zip is compressed in a worker thread
    straight into the response (no second temporary file), so the event loop keeps serving
    everyone else."""
    pipe = _Pipe(XLSX_CHUNK)
    # Record links as text: a sheet holds at most 65,530 links, and past them XlsxWriter
    # would warn once a row (a million warnings in a large export).
    options = {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    book = xlsxwriter.Workbook(pipe, options)
    sheet = book.add_worksheet(_("Звонки"))
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, headers(), bold)
    sheet.set_column(0, 0, 20)
    sheet.set_column(2, 4, 22)
    line = 1

    def write(rows: list[dict[str, Any]], first: int) -> None:
        for n, row in enumerate(rows):
            sheet.write_row(first + n, 0, _cells(row))

    async for rows in batches:
        await anyio.to_thread.run_sync(write, rows, line)
        line += len(rows)

    def close() -> None:
        try:
            book.close()
        except BaseException as e:  # the reader gets it, the thread ends
            with contextlib.suppress(OSError):
                pipe.end(e)
        else:
            with contextlib.suppress(OSError):
                pipe.end()

    threading.Thread(target=close, name="xlsx-export", daemon=True).start()
    try:
        while True:
            item = await anyio.to_thread.run_sync(pipe.chunks.get)
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        pipe.gone.set()


DIRECTIONS = tuple(Direction)
STATUSES = tuple(CallStatus)
