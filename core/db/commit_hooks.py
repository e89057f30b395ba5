"""What a transaction does around its commit: batches written just before it, topics announced
just after it.

`Database.before_commit(key, write)` gives a list that lives as long as the transaction;
`write(list)` runs once, just before the COMMIT, so rows can be written as late as possible
(`core.events` writes the live events there, under a lock held only from there to the commit).
`Database.announce(topic)` collects topics for `Database.after_commit`, called once the
transaction has committed (`core.live` wakes the streams that listen to them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Write = Callable[[list[Any]], Awaitable[None]]


class CommitHooks:
    """One transaction's hooks, and the named locks it holds already (they end with it)."""

    __slots__ = ("batches", "locks", "topics", "writers")

    def __init__(self) -> None:
        self.batches: dict[str, list[Any]] = {}
        self.writers: dict[str, Write] = {}
        self.topics: set[str] = set()
        self.locks: set[str] = set()

    def batch(self, key: str, write: Write) -> list[Any]:
        """The list under `key`, written by `write` before the commit (the first one given)."""
        items = self.batches.get(key)
        if items is None:
            items = self.batches[key] = []
            self.writers[key] = write
        return items

    async def before_commit(self) -> None:
        """Write every batch; the transaction commits right after."""
        for key, write in self.writers.items():
            await write(self.batches[key])

    def mark(self) -> dict[str, int]:
        """Where each batch ends now, for `roll_back_to` when a savepoint fails."""
        return {key: len(items) for key, items in self.batches.items()}

    def roll_back_to(self, mark: dict[str, int]) -> None:
        """Drop what a rolled-back savepoint added. Its topics stay announced: listeners
        re-read what changed, so a needless announcement costs one read."""
        for key, items in self.batches.items():
            del items[mark.get(key, 0) :]
