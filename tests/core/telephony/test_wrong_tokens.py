"""Webhooks with a wrong token are counted per hour for the install, in one write per flush."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from core import clock
from core.tables import wrong_token_counts
from core.telephony import wrong_tokens

pytestmark = pytest.mark.anyio


async def test_a_tally_adds_to_its_hours_row_and_the_last_day_is_summed(db):
    now = clock.now()
    tally = wrong_tokens.Tally()
    for _ in range(100):
        tally.note()
    await tally.flush(db, now)
    await tally.flush(db, now)  # nothing new: no write
    tally.note()
    await tally.flush(db, now)
    await wrong_tokens.add(db, 7, now - timedelta(hours=5))
    await wrong_tokens.add(db, 1000, now - timedelta(hours=25))  # more than a day ago
    assert await wrong_tokens.last_day(db, now) == 108
    assert await db.fetch_val(sa.select(sa.func.count()).select_from(wrong_token_counts)) == 3
    await wrong_tokens.purge(db, now + timedelta(hours=23))  # two days after the oldest
    assert await db.fetch_val(sa.select(sa.func.sum(wrong_token_counts.c.requests))) == 108


async def test_nothing_counted_is_nothing_shown(db):
    assert await wrong_tokens.last_day(db) == 0
