"""Keyset paging, newest first: one page of rows and the cursor that continues the list.

Every long list (clients, a dialog, the webhook journal) pages by a growing id instead of an
OFFSET, so the thousandth page costs what the first does and a row added meanwhile never
shifts a page."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from core.db import Database


async def newest_first(
    db: Database,
    query: sa.Select[Any],
    key: sa.Column[int],
    *,
    before: int | None,
    limit: int,
) -> tuple[list[dict[str, Any]], int | None]:
    """Up to `limit` rows of `query` with `key` below `before`, highest `key` first, and the
    `before` of the next page (None on the last one)."""
    if before is not None:
        query = query.where(key < before)
    rows = await db.fetch_all(query.order_by(key.desc()).limit(limit + 1))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, rows[-1][key.key]
