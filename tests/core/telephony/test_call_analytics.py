"""«Аналитика» in core: days and hours in Moscow time, what answered and missed mean, the
employees' table, time to callback, and every count equal to the journal's for the filter."""

from datetime import UTC, date, datetime, timedelta

import pytest

from core.tables import calls, missed_calls
from core.telephony import call_analytics, call_journal
from core.telephony.call_journal import JournalFilter
from tests.support import builders

pytestmark = pytest.mark.anyio

MSK = call_journal.PROJECT_TZ
START = datetime(2026, 11, 2, tzinfo=MSK)  # a Monday
WEEK = JournalFilter(start=START, end=START + timedelta(days=7))
_ids = iter(range(1, 10_000))


async def add_call(db, project_id, at, direction, status, pbx_user="ivanov", **fields):
    """A call the PBX reported, first heard of at `at` (Moscow time)."""
    moment = at.astimezone(UTC)
    return await db.execute(
        calls.insert().values(
            project_id=project_id,
            callid=f"call-{next(_ids)}",
            phone="79265550101",
            direction=direction,
            status=status,
            pbx_user=pbx_user,
            created_at=moment,
            updated_at=moment,
            **fields,
        )
    )


async def add_callback(db, project_id, client_id, call_id, closed_at, seconds, kind, by="ivanov"):
    await db.execute(
        missed_calls.insert().values(
            project_id=project_id,
            client_id=client_id,
            attempts=1,
            first_call_id=call_id,
            last_call_id=call_id,
            opened_at=closed_at - timedelta(seconds=seconds),
            last_attempt_at=closed_at - timedelta(seconds=seconds),
            closed_at=closed_at,
            close_kind=kind,
            closed_by_pbx_user=by if kind != "manual" else "",
            callback_seconds=seconds if kind != "manual" else None,
        )
    )


async def journal_count(db, project_id, f):
    found = await call_journal.page(db, project_id, f, limit=10_000)
    return len(found.rows)


@pytest.fixture
async def week(db):
    """Иван (ivanov) and an unknown login take a week's calls, some right by midnight."""
    ids = await builders.call_center(db)
    p = ids["project"]
    monday_9 = START + timedelta(hours=9)
    ids["missed"] = await add_call(db, p, monday_9, "in", "Missed", wait=30)
    await add_call(db, p, monday_9 + timedelta(minutes=5), "in", "Success", wait=10, duration=60)
    await add_call(db, p, monday_9 + timedelta(minutes=9), "out", "Success", duration=120, rating=4)
    await add_call(db, p, START + timedelta(hours=23, minutes=59), "in", "Cancel", wait=20)
    await add_call(db, p, START + timedelta(days=1), "in", "Success", wait=4, duration=30, rating=5)
    await add_call(db, p, START + timedelta(days=2, hours=14), "out", "Busy", pbx_user="701")
    await add_call(db, p, START + timedelta(days=2, hours=14), "in", "", pbx_user="701")  # ringing
    await add_call(db, p, START - timedelta(seconds=1), "in", "Missed")  # the week before
    await add_call(db, p, START + timedelta(days=7), "in", "Missed")  # the week after
    return ids


async def test_calls_are_counted_by_day_in_moscow_time(db, week):
    found = await call_analytics.analytics(db, week["project"], WEEK)
    assert [d.day for d in found.days] == [date(2026, 11, 2) + timedelta(days=i) for i in range(7)]
    counts = [(d.answered, d.missed, d.outgoing) for d in found.days]
    assert counts == [(1, 2, 1), (1, 0, 0), (0, 0, 1), (0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0)]


async def test_the_heatmap_counts_incoming_calls_by_weekday_and_hour(db, week):
    found = await call_analytics.analytics(db, week["project"], WEEK)
    busy = {
        (weekday, hour): n
        for weekday, row in enumerate(found.heatmap)
        for hour, n in enumerate(row)
        if n
    }
    assert busy == {(0, 9): 2, (0, 23): 1, (1, 0): 1, (2, 14): 1}
    assert found.busiest == 2


async def test_the_employees_table_and_the_team(db, week):
    found = await call_analytics.analytics(db, week["project"], WEEK)
    ivan, stranger = found.employees[:2]
    assert (ivan.name, ivan.calls, ivan.answered, ivan.missed, ivan.outgoing) == (
        "Иван Петров",
        5,
        2,
        2,
        1,
    )
    assert ivan.talk_seconds == 210 and ivan.average_wait == 16 and ivan.average_rating == 4.5
    assert (stranger.name, stranger.employee_id, stranger.calls) == ("701", None, 2)
    assert (found.team.calls, found.team.answered, found.team.missed) == (7, 2, 2)
    assert found.answer_rate == 0.5


async def test_every_count_is_the_journals_for_the_same_filter(db, week):
    p = week["project"]
    found = await call_analytics.analytics(db, p, WEEK)
    for day in found.days:
        bounds = call_journal.period_bounds("", day.day, day.day, START)
        f = JournalFilter(start=bounds[0], end=bounds[1])
        assert day.outgoing == await journal_count(db, p, JournalFilter(*bounds, direction="out"))
        assert day.answered == await journal_count(
            db, p, JournalFilter(*bounds, direction="in", status="Success")
        )
        ended = [
            await journal_count(db, p, JournalFilter(*bounds, direction="in", status=s))
            for s in call_journal.STATUSES
        ]
        assert day.answered + day.missed == sum(ended)
        assert day.answered + day.missed + day.outgoing <= await journal_count(db, p, f)
    for row in found.employees:
        login = "ivanov" if row.employee_id else row.name
        f = JournalFilter(start=WEEK.start, end=WEEK.end, pbx_user=login)
        assert row.calls == await journal_count(db, p, f)
    assert found.team.calls == await journal_count(db, p, WEEK)


async def test_time_to_callback_is_the_median_of_items_closed_by_a_call_in_the_period(db, week):
    p, maria = week["project"], week["maria"]
    noon = START + timedelta(days=3, hours=12)
    for seconds, kind in [(60, "outbound"), (600, "inbound"), (300, "outbound"), (5, "manual")]:
        await add_callback(db, p, maria, week["missed"], noon, seconds, kind)
    await add_callback(db, p, maria, week["missed"], START - timedelta(hours=1), 9, "outbound")
    found = await call_analytics.analytics(db, p, WEEK)
    assert found.team.median_callback == 300
    assert found.employees[0].median_callback == 300
    mine = JournalFilter(start=WEEK.start, end=WEEK.end, pbx_user="ivanov@vats.megapbx.ru")
    only_ivan = await call_analytics.analytics(db, p, mine)
    assert [r.name for r in only_ivan.employees] == ["Иван Петров"]
    assert only_ivan.team.median_callback == 300 and only_ivan.team.calls == 5


async def test_an_employee_without_a_pbx_login_has_no_calls(db, week):
    nobody = JournalFilter(start=WEEK.start, end=WEEK.end, pbx_user="")
    found = await call_analytics.analytics(db, week["project"], nobody)
    assert found.employees == [] and found.team.calls == 0 and found.answer_rate is None
