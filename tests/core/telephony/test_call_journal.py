"""«Звонки» in core: filters, periods in Moscow time, keyset pages and export batches."""

import asyncio
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from core.tables import calls
from core.telephony import call_journal, inbox
from core.telephony.call_journal import JournalFilter
from tests.support import builders

pytestmark = pytest.mark.anyio


async def play(db, project_id, callid, phone, **fields):
    await inbox.receive(
        db,
        project_id,
        {
            "cmd": "event",
            "type": "INCOMING",
            "direction": "in",
            "callid": callid,
            "phone": phone,
            **fields,
        },
    )


EVERYTHING = JournalFilter()


async def callids(db, project_id, f=EVERYTHING, **kwargs):
    found = await call_journal.page(db, project_id, f, **kwargs)
    return [r["callid"] for r in found.rows], found.next_before


async def test_pages_go_newest_first_and_the_export_walks_every_batch(db):
    ids = await builders.call_center(db)
    project = ids["project"]
    for n in range(1, 8):
        await play(db, project, f"c{n}", f"7926555010{n}")
    first, cursor = await callids(db, project, limit=3)
    assert first == ["c7", "c6", "c5"]
    second, cursor = await callids(db, project, before=cursor, limit=3)
    assert second == ["c4", "c3", "c2"]
    assert await callids(db, project, before=cursor, limit=3) == (["c1"], None)
    batches = [
        [r["callid"] for r in rows]
        async for rows in call_journal.rows_for_export(db, project, JournalFilter(), batch=3)
    ]
    assert batches == [["c7", "c6", "c5"], ["c4", "c3", "c2"], ["c1"]]


async def test_periods_are_days_in_moscow_time():
    late_evening_utc = datetime(2026, 3, 11, 22, 30, tzinfo=UTC)  # 01:30 on Thursday 12th in Moscow
    start, end = call_journal.period_bounds("today", None, None, late_evening_utc)
    assert (start, end) == (
        datetime(2026, 3, 11, 21, tzinfo=UTC),
        datetime(2026, 3, 12, 21, tzinfo=UTC),
    )
    start, end = call_journal.period_bounds("yesterday", None, None, late_evening_utc)
    assert start == datetime(2026, 3, 10, 21, tzinfo=UTC)
    assert end == datetime(2026, 3, 11, 21, tzinfo=UTC)
    start, _ = call_journal.period_bounds("week", None, None, late_evening_utc)
    assert start == datetime(2026, 3, 8, 21, tzinfo=UTC)  # Monday 9th, Moscow midnight
    start, _ = call_journal.period_bounds("month", None, None, late_evening_utc)
    assert start == datetime(2026, 2, 28, 21, tzinfo=UTC)
    start, end = call_journal.period_bounds(
        "", date(2026, 1, 1), date(2026, 1, 1), late_evening_utc
    )
    assert end - start == timedelta(days=1)
    assert call_journal.period_bounds("", None, None, late_evening_utc) == (None, None)


async def test_filters_by_time_employee_and_number_in_any_format(db):
    ids = await builders.call_center(db)
    project = ids["project"]
    await play(db, project, "old", "89031234567", user="ivanov")  # the PBX wrote it with an 8
    await play(db, project, "new", "79265550101", user="petrov@vats1.megapbx.ru")
    await db.execute(
        calls.update()
        .where(calls.c.callid == "old")
        .values(created_at=datetime(2026, 1, 5, tzinfo=UTC))
    )
    january = JournalFilter(
        start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 2, 1, tzinfo=UTC)
    )
    assert (await callids(db, project, january))[0] == ["old"]
    assert (await callids(db, project, JournalFilter(search="+7 (903) 123-45-67")))[0] == ["old"]
    assert (await callids(db, project, JournalFilter(search="8 926 555 01 01")))[0] == ["new"]
    assert (await callids(db, project, JournalFilter(pbx_user="petrov@vats1.megapbx.ru")))[0] == [
        "new"
    ]
    assert (await callids(db, project, JournalFilter(pbx_user="ivanov")))[0] == ["old"]
    assert (await callids(db, project, JournalFilter(pbx_user="")))[0] == []  # no PBX login
    assert (await callids(db, project, JournalFilter()))[0] == ["new", "old"]


async def test_a_row_is_shown_only_to_its_project_and_when_the_filter_lets_it(db):
    ids = await builders.call_center(db)
    other = await builders.admin(db, project="Лютик")
    await play(db, ids["project"], "mine", "79265550101")
    call_id = await db.fetch_val(sa.select(calls.c.id).where(calls.c.callid == "mine"))
    row = await call_journal.journal_row(db, ids["project"], call_id, JournalFilter())
    assert row is not None and row["client_name"]
    assert await call_journal.journal_row(db, other["project_id"], call_id, JournalFilter()) is None
    outbound_only = JournalFilter(direction="out")
    assert await call_journal.journal_row(db, ids["project"], call_id, outbound_only) is None


async def test_a_name_a_spreadsheet_would_run_is_exported_as_text(db):
    ids = await builders.call_center(db)
    await play(db, ids["project"], "c1", "79161112233")
    await db.execute(sa.text("UPDATE clients SET name = '=HYPERLINK(\"http://x\")'"))
    rows = call_journal.rows_for_export(db, ids["project"], EVERYTHING)
    text = b"".join([chunk async for chunk in call_journal.csv_chunks(rows)]).decode("utf-8-sig")
    assert "\"'=HYPERLINK" in text and ";79161112233;" in text


async def test_a_period_pages_exactly_even_when_calls_were_not_heard_of_in_id_order(db):
    """A period's page walks the ids its calls span (call_journal._period_ids): a call heard of
    out of order (a clock set back) is still in its period, and in id order on its page."""
    ids = await builders.call_center(db)
    project = ids["project"]
    days = [3, 20, 4, 5, 21, 6]  # of March; ids grow along the list
    for n, day in enumerate(days):
        await play(db, project, f"c{n}", f"7926555010{n}")
        await db.execute(
            calls.update()
            .where(calls.c.callid == f"c{n}")
            .values(created_at=datetime(2026, 3, day, 12, tzinfo=UTC))
        )
    early = JournalFilter(
        start=datetime(2026, 3, 1, tzinfo=UTC), end=datetime(2026, 3, 10, tzinfo=UTC)
    )
    first, cursor = await callids(db, project, early, limit=2)
    assert first == ["c5", "c3"]
    assert await callids(db, project, early, before=cursor, limit=2) == (["c2", "c0"], None)
    late = JournalFilter(
        start=datetime(2026, 3, 15, tzinfo=UTC), end=datetime(2026, 4, 1, tzinfo=UTC)
    )
    assert (await callids(db, project, late))[0] == ["c4", "c1"]
    empty = JournalFilter(
        start=datetime(2025, 1, 1, tzinfo=UTC), end=datetime(2025, 2, 1, tzinfo=UTC)
    )
    assert await callids(db, project, empty) == ([], None)


async def test_a_search_by_name_pages_through_the_clients_calls(db):
    ids = await builders.call_center(db)
    project = ids["project"]
    for n in range(5):  # Мария Иванова's number (builders.call_center), and a stranger's
        await play(db, project, f"m{n}", "79265550101")
        await play(db, project, f"s{n}", "79990000000")
    maria = JournalFilter(search="иванова")
    first, cursor = await callids(db, project, maria, limit=3)
    assert first == ["m4", "m3", "m2"]
    assert await callids(db, project, maria, before=cursor, limit=3) == (["m1", "m0"], None)
    missed_maria = JournalFilter(search="мария", status="Missed")
    assert await callids(db, project, missed_maria) == ([], None)


async def test_each_filters_first_page_is_an_index_range(db):
    """What bench/calls_million.py checks at a million calls, here at a few."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite's EXPLAIN QUERY PLAN is the one read here")
    ids = await builders.call_center(db)
    project = ids["project"]
    await play(db, project, "c1", "79265550101", user="ivanov")
    month = JournalFilter(start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime.now(UTC))
    for f in [
        EVERYTHING,
        month,
        JournalFilter(pbx_user="ivanov"),
        JournalFilter(status="Missed"),
        JournalFilter(search="8 926 555-01-01"),
        JournalFilter(search="мария"),
        JournalFilter(client_id=1),
    ]:
        plan = await db.query_plan(await call_journal.first_page_query(db, project, f))
        assert "USING INDEX" in plan or "USING INTEGER PRIMARY KEY" in plan, (f, plan)
        assert "SCAN calls" not in plan, (f, plan)


async def test_an_abandoned_xlsx_download_stops_its_writer(db, monkeypatch):
    """The zip is compressed in a thread of its own: when the download stops halfway, the
    thread gives up instead of waiting for a reader forever."""
    monkeypatch.setattr(call_journal, "XLSX_CHUNK", 512)
    ids = await builders.call_center(db)
    for n in range(30):
        await play(db, ids["project"], f"c{n}", f"792655501{n:02d}")
    rows = call_journal.rows_for_export(db, ids["project"], EVERYTHING)
    download = call_journal.xlsx_chunks(rows)
    assert (await anext(download)).startswith(b"PK")
    await download.aclose()
    for _ in range(100):
        if not any(t.name == "xlsx-export" for t in threading.enumerate()):
            break
        await asyncio.sleep(0.05)
    assert not any(t.name == "xlsx-export" for t in threading.enumerate())
