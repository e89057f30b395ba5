"""Waking the open streams when their topics change, in this process and in every other one.

`Hub` keeps this process's subscriptions by topic. A bus is what `Database.after_commit` calls with
the topics a transaction announced (`core.events.emit`): it wakes the local subscribers at once
and tells the other processes, through PostgreSQL LISTEN/NOTIFY (`PostgresBus`) or Redis pub/sub
(`RedisBus`); with SQLite and no Redis there is one process and `LocalBus` is enough.

A wake-up carries no data: a woken stream reads its events from the database (`events.since`),
so a lost or repeated notification costs one read and never an event. After a bus reconnects,
every local stream is woken, since notifications sent meanwhile are gone; and every stream
reads again at least every 15 seconds (`web/sse.py`), so even a notification lost without a
reconnect only makes an update late.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Iterable

import asyncpg
import redis.asyncio as aioredis
import redis.exceptions

log = logging.getLogger("crm.live")

CHANNEL = "crm_live"
MAX_PAYLOAD = 7000  # PostgreSQL's NOTIFY takes 8000 bytes at most
MAX_OUTBOX = 10_000  # announcements kept while the bus is down; streams re-read anyway


class Subscription:
    """One open stream's interest in a few topics."""

    __slots__ = ("_event", "_hub", "closed", "topics")

    def __init__(self, hub: Hub, topics: tuple[str, ...]) -> None:
        self._hub = hub
        self._event = asyncio.Event()
        self.topics = topics
        self.closed = False

    def wake(self) -> None:
        self._event.set()

    async def wait(self, at_most: float | None = None) -> bool:
        """Until a topic changes or `at_most` seconds pass (True), or the server shuts down
        (False)."""
        timer = None
        if at_most is not None:
            timer = asyncio.get_running_loop().call_later(at_most, self._event.set)
        try:
            await self._event.wait()
        finally:
            if timer is not None:
                timer.cancel()
        self._event.clear()
        return not self.closed

    def set(self) -> None:
        """The server is shutting down: `wait` returns False. (Named `set` so that this object
        can be sse-starlette's `shutdown_event`.)"""
        self.closed = True
        self._event.set()

    def close(self) -> None:
        self._hub.unsubscribe(self)


class Hub:
    """This process's open streams, by topic."""

    def __init__(self) -> None:
        self._by_topic: dict[str, set[Subscription]] = {}

    def add(self, subscription: Subscription) -> None:
        for topic in subscription.topics:
            self._by_topic.setdefault(topic, set()).add(subscription)

    def unsubscribe(self, subscription: Subscription) -> None:
        for topic in subscription.topics:
            subscribers = self._by_topic.get(topic)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._by_topic[topic]

    def wake(self, topics: Iterable[str]) -> None:
        for topic in topics:
            for subscription in self._by_topic.get(topic, ()):
                subscription.wake()

    def everyone(self) -> set[Subscription]:
        return {s for subscribers in self._by_topic.values() for s in subscribers}

    def wake_all(self) -> None:
        for subscription in self.everyone():
            subscription.wake()

    def close_all(self) -> None:
        for subscription in self.everyone():
            subscription.set()


class LocalBus:
    """One process: announcements wake this process's streams and go nowhere else."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def publish(self, topics: set[str]) -> None:
        self.hub.wake(topics)

    async def start(self) -> None:
        """Start talking to the other processes (in the background: the app serves meanwhile)."""

    async def stop(self) -> None:
        pass


class _SharedBus(LocalBus):
    """Announcements also go to the other processes, through an outbox that a background task
    sends (`_session`, reconnected after any failure); theirs wake this process's streams."""

    name = ""

    def __init__(self, hub: Hub, url: str) -> None:
        super().__init__(hub)
        self.url = url
        self.origin = secrets.token_hex(6)  # this process, to skip its own echoes
        self._outbox: asyncio.Queue[set[str] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def publish(self, topics: set[str]) -> None:
        self.hub.wake(topics)
        if self._outbox.qsize() < MAX_OUTBOX:
            self._outbox.put_nowait(topics)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._keep_connected())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _heard(self, payload: str) -> None:
        origin, _, topics = payload.partition(" ")
        if origin != self.origin:
            self.hub.wake(topics.split())

    async def _payloads(self) -> list[str]:
        """Everything waiting in the outbox, in as few payloads as fit."""
        first = await self._outbox.get()
        batch = [first]
        while not self._outbox.empty():
            batch.append(self._outbox.get_nowait())
        if any(topics is None for topics in batch):
            raise ConnectionResetError("the bus connection was lost")
        topics = sorted({t for group in batch if group for t in group})
        payloads, current = [], self.origin
        for topic in topics:
            if len(current) + len(topic) + 1 > MAX_PAYLOAD:
                payloads.append(current)
                current = self.origin
            current += " " + topic
        return [*payloads, current]

    async def _keep_connected(self) -> None:
        """Run `_session` again after any failure, with a growing pause; wake every local
        stream after a reconnect (what was sent meanwhile is lost)."""
        pause, reconnecting = 0.5, False
        while True:
            try:
                await self._session(reconnecting)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # any failure of the bus: log it, keep serving, retry
                reason = str(e) or type(e).__name__
                log.warning("%s bus: %s; reconnecting in %.1f s", self.name, reason, pause)
                await asyncio.sleep(pause)
                pause, reconnecting = min(pause * 2, 10.0), True
            else:
                return

    def _connected(self, reconnecting: bool) -> None:
        if reconnecting:
            log.warning("%s bus: reconnected", self.name)
            self.hub.wake_all()

    async def _session(self, reconnecting: bool) -> None:
        raise NotImplementedError


class PostgresBus(_SharedBus):
    """Several processes on one PostgreSQL: LISTEN/NOTIFY on a connection of its own."""

    name = "PostgreSQL"

    async def _session(self, reconnecting: bool) -> None:
        conn = await asyncpg.connect(self.url)
        closing = False

        def lost(_: object) -> None:
            if not closing:
                self._outbox.put_nowait(None)  # ends `_payloads` with an error: reconnect

        try:
            conn.add_termination_listener(lost)
            await conn.add_listener(CHANNEL, lambda *args: self._heard(args[3]))
            self._connected(reconnecting)
            while True:
                for payload in await self._payloads():
                    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
        finally:
            closing = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)


class RedisBus(_SharedBus):
    """Several processes with `REDIS_URL`: Redis pub/sub."""

    name = "Redis"

    async def _session(self, reconnecting: bool) -> None:
        client = aioredis.Redis.from_url(self.url, socket_connect_timeout=3)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(CHANNEL)
            self._connected(reconnecting)
            listening = asyncio.create_task(self._listen(pubsub))
            try:
                while True:
                    sending = asyncio.create_task(self._payloads())
                    await asyncio.wait({sending, listening}, return_when=asyncio.FIRST_COMPLETED)
                    if listening.done():
                        if sending.done() and not sending.exception():
                            sent = sending.result()  # send them after reconnecting
                            self._outbox.put_nowait({t for p in sent for t in p.split()[1:]})
                        sending.cancel()
                        listening.result()  # raises what stopped it
                        raise redis.exceptions.ConnectionError("subscription ended")
                    for payload in sending.result():
                        await client.publish(CHANNEL, payload)
            finally:
                listening.cancel()
                with contextlib.suppress(BaseException):
                    await listening
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis leaves it unannotated
                await client.aclose()

    async def _listen(self, pubsub: aioredis.client.PubSub) -> None:
        async for message in pubsub.listen():
            if message["type"] == "message":
                data = message["data"]
                self._heard(data.decode() if isinstance(data, bytes) else data)


def make_bus(hub: Hub, database_url: str, redis_url: str | None) -> LocalBus:
    """Redis when configured, else PostgreSQL's own channel, else this process alone."""
    if redis_url:
        return RedisBus(hub, redis_url)
    if database_url.startswith("postgresql"):
        return PostgresBus(hub, database_url)
    return LocalBus(hub)
