"""The demo's month of calls: every day has calls, missed ones are called back or wait in
«Пропущенные», and «Аналитика» has something to draw."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from core import clock, demo
from core.passwords import Passwords
from core.tables import calls, missed_calls, users
from core.telephony import call_analytics, call_journal, inbox
from core.telephony.call_journal import JournalFilter

pytestmark = pytest.mark.anyio


async def test_the_demo_has_a_month_of_calls_for_analytics(db):
    await demo.fill(db, Passwords(cheap=True), clients_count=10)
    admin = await db.fetch_one(users.select().where(users.c.email == demo.ADMIN_EMAIL))
    project = admin["project_id"]
    end = call_journal.period_bounds("today", None, None, clock.now())[1]
    month = JournalFilter(start=end - timedelta(days=30), end=end)
    report = await call_analytics.analytics(db, project, month)
    weekdays = [d for d in report.days[:-1] if d.day.weekday() < 5]
    assert all(d.total >= 20 for d in weekdays)
    assert report.team.missed and report.team.median_callback and report.answer_rate
    assert [r.name for r in report.employees[:2]] == ["Иван Петров", "Анна Администратор"]

    items = await db.fetch_all(missed_calls.select())
    closed = [i for i in items if i["closed_at"] is not None]
    for item in closed:
        seconds = (item["closed_at"] - item["opened_at"]).total_seconds()
        assert item["callback_seconds"] == seconds and item["close_kind"] in ("outbound", "inbound")
    waiting = [i["client_id"] for i in items if i["closed_at"] is None]
    assert len(waiting) == len(set(waiting))

    # the calls the PBX reports next get ids after the demo's
    await inbox.receive(
        db, project, {"cmd": "event", "type": "INCOMING", "callid": "next", "phone": "79260000000"}
    )
    newest = await db.fetch_one(sa.select(calls).order_by(calls.c.id.desc()).limit(1))
    assert newest["callid"] == "next"
