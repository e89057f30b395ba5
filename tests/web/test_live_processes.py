"""Live updates across restarts and processes: the app run as `python -m web serve`, in
processes of its own, stopped with a real SIGTERM; PostgreSQL and Redis as the machine runs them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import builders
from tests.support.databases import PG_URL, reset_schema, run_core
from tests.support.megafon import post_webhook as webhook
from tests.support.pages import call_lines
from tests.support.servers import AppProcess, LiveBrowser, Stream, free_port

REDIS_URL = "redis://127.0.0.1:6379/0"


class Tabs:
    """Browsers and their streams, closed before the servers stop."""

    def __init__(self) -> None:
        self.open: list[Any] = []

    def browser(self, app: AppProcess, email: str) -> LiveBrowser:
        client = LiveBrowser(base_url=app.url, follow_redirects=True, timeout=15)
        self.open.append(client)
        client.login(email)
        return client

    def stream(self, client: httpx.Client, url: str, last_event_id: str | None = None) -> Stream:
        stream = Stream(client, url, last_event_id)
        self.open.insert(0, stream)
        assert stream.status_code == 200
        return stream

    def close(self) -> None:
        for closable in self.open:
            closable.close()


@pytest.fixture
def tabs() -> Iterator[Tabs]:
    opened = Tabs()
    yield opened
    opened.close()


def clean(log: str) -> bool:
    return "ERROR" not in log and "Traceback" not in log


def test_a_restart_ends_streams_cleanly_and_the_page_gets_what_it_missed(tmp_path, tabs):
    url = f"sqlite:///{tmp_path}/crm.sqlite3"
    port = free_port()
    with AppProcess(url, port) as first:
        ids = run_core(url, builders.call_center)
        anna = tabs.browser(first, "anna@romashka.ru")
        card = tabs.stream(anna, f"/events?client={ids['maria']}")
        webhook(first.url, ids["key"], cmd="event", type="ACCEPTED", callid="c1")
        card.wait_for("call")  # the call's item in the dialog, with its message
        log = first.stop()
        while card.next(timeout=10) is not None:
            pass
        assert card.error is None  # the response ended properly, not a broken connection
        assert clean(log), log

    with AppProcess(url, port) as second:  # the same address, as after a deploy
        webhook(second.url, ids["key"], cmd="event", type="COMPLETED", callid="c1")
        webhook(second.url, ids["key"], cmd="history", type="in", status="Success", callid="c1")
        last = card.received[-1].id
        resumed = tabs.stream(anna, f"/events?client={ids['maria']}", last_event_id=last)
        missed = resumed.quiet(1.0)
        [call] = [e for e in missed if e.event == "call"]  # the call's item, as it is now
        assert call_lines(call.data) == [
            "megafon_call_event ACCEPTED",
            "megafon_call_event COMPLETED",
            "megafon_call_status Success",
        ]
        assert all(int(e.id) > int(last) for e in missed)
        resumed.close()
        assert clean(second.stop())


def test_two_processes_share_live_events_through_redis(tmp_path, tabs):
    url = f"sqlite:///{tmp_path}/crm.sqlite3"  # SQLite has no channel of its own: only Redis
    with (
        AppProcess(url, REDIS_URL=REDIS_URL) as one,
        AppProcess(url, REDIS_URL=REDIS_URL) as two,
    ):
        ids = run_core(url, builders.call_center)
        shared(one, two, ids, tabs)


@pytest.fixture
def pg_url(pg_database: str | None) -> str:
    if not pg_database:
        pytest.skip("TEST_DATABASE_URL is not set (CI sets it)")
    reset_schema(pg_database)
    return pg_database


def test_two_processes_share_live_events_through_postgresql(pg_url, tabs):
    assert PG_URL
    with AppProcess(pg_url) as one, AppProcess(pg_url) as two:
        ids = run_core(pg_url, builders.call_center)
        shared(one, two, ids, tabs)


def shared(one: AppProcess, two: AppProcess, ids: dict[str, Any], tabs: Tabs) -> None:
    """A webhook received by one process reaches the streams that the other one holds."""
    card = tabs.stream(tabs.browser(two, "anna@romashka.ru"), f"/events?client={ids['maria']}")
    ivan = tabs.stream(tabs.browser(one, "ivan@romashka.ru"), "/events")
    webhook(one.url, ids["key"], cmd="event", type="ACCEPTED", callid="c1", user="ivanov")
    assert "megafon_call_event ACCEPTED" in card.wait_for("call").data
    webhook(two.url, ids["key"], cmd="event", type="INCOMING", callid="c2", user="ivanov")
    assert "Мария Иванова" in ivan.wait_for("popup").data
    webhook(two.url, ids["key"], cmd="event", type="CANCELLED", callid="c2", user="ivanov")
    ivan.wait_for("popup-close")
