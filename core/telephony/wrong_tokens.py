"""Webhooks with a wrong `crm_token`: counted, never stored one by one.

A wrong token names no project (every project's PBX posts to the same URL), so the count is
the install's, per hour. A flood must not write per request: `Tally` counts in memory and
`flush` adds the count to its hour's row every few seconds. «Телефония» shows the last day's
count, so an admin who regenerated the key sees why calls stopped arriving.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from core import clock
from core.db import Database
from core.tables import wrong_token_counts

KEPT_FOR = timedelta(days=2)


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


class Tally:
    """This process's wrong-token webhooks since the last flush."""

    def __init__(self) -> None:
        self.pending = 0

    def note(self) -> None:
        self.pending += 1

    async def flush(self, db: Database, now: datetime | None = None) -> None:
        """Add what was counted to its hour's row (shared by every process)."""
        count, self.pending = self.pending, 0
        if count:
            try:
                await add(db, count, now)
            except BaseException:
                self.pending += count  # counted again next time
                raise


async def add(db: Database, count: int, now: datetime | None = None) -> None:
    hour = _hour(now or clock.now())
    async with db.transaction():
        await db.insert_ignore(wrong_token_counts, {"hour": hour, "requests": 0}, keys=("hour",))
        await db.execute(
            wrong_token_counts.update()
            .where(wrong_token_counts.c.hour == hour)
            .values(requests=wrong_token_counts.c.requests + count)
        )


async def last_day(db: Database, now: datetime | None = None) -> int:
    """Wrong-token webhooks in the current hour and the 23 before it."""
    since = _hour(now or clock.now()) - timedelta(hours=24)
    total = await db.fetch_val(
        sa.select(sa.func.coalesce(sa.func.sum(wrong_token_counts.c.requests), 0)).where(
            wrong_token_counts.c.hour > since
        )
    )
    return int(total)


async def purge(db: Database, now: datetime | None = None) -> None:
    horizon = (now or clock.now()) - KEPT_FOR
    await db.execute(wrong_token_counts.delete().where(wrong_token_counts.c.hour < horizon))
