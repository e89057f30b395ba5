"""A transaction's hooks: batches written just before the commit, topics for after it."""

import pytest

from core.db.commit_hooks import CommitHooks

pytestmark = pytest.mark.anyio


async def test_each_batch_is_written_once_by_its_first_writer():
    hooks = CommitHooks()
    written: list[tuple[str, list[int]]] = []

    async def first(items: list[int]) -> None:
        written.append(("first", list(items)))

    async def second(items: list[int]) -> None:
        written.append(("second", list(items)))

    hooks.batch("events", first).append(1)
    hooks.batch("events", second).append(2)
    hooks.batch("other", second).append(3)
    await hooks.before_commit()
    assert written == [("first", [1, 2]), ("second", [3])]


def test_rolling_back_to_a_mark_drops_what_came_after_it():
    hooks = CommitHooks()

    async def write(items: list[str]) -> None:
        pass

    hooks.batch("events", write).append("kept")
    mark = hooks.mark()
    hooks.batch("events", write).append("undone")
    hooks.batch("new", write).append("undone too")
    hooks.topics.add("1:managers")
    hooks.roll_back_to(mark)
    assert hooks.batches == {"events": ["kept"], "new": []}
    assert hooks.topics == {"1:managers"}  # announced anyway: listeners only re-read
