"""Waking open streams: the hub wakes the subscribers of a topic, after the commit that
announced it; the Redis and PostgreSQL buses carry wake-ups between processes (two buses here,
each with its own hub), and skip cleanly when the service is absent."""

import asyncio
import contextlib
import secrets

import asyncpg
import pytest
import redis.asyncio as aioredis

from core import events, live

pytestmark = pytest.mark.anyio
REDIS_URL = "redis://127.0.0.1:6379/0"


def subscribe(hub, *topics):
    subscription = live.Subscription(hub, topics)
    hub.add(subscription)
    return subscription


async def woken(subscription, within=5.0):
    """True once the subscription is woken (and takes the wake-up), False if not in time."""
    try:
        return await asyncio.wait_for(subscription.wait(), within)
    except TimeoutError:
        return False


def unique(name):
    """A topic nobody else uses: the buses' channels are shared with other test runs."""
    return f"{name}-{secrets.token_hex(4)}"


# The hub: this process's open streams.


async def test_a_topic_wakes_only_its_own_subscribers():
    hub = live.Hub()
    card = subscribe(hub, "1:client:5", "1:user:3")
    other_card = subscribe(hub, "1:client:6")
    hub.wake({"1:client:5"})
    assert await woken(card)
    assert not await woken(other_card, within=0.05)
    hub.wake(["1:user:3", "1:nobody"])
    assert await woken(card)


async def test_a_closed_stream_is_no_longer_woken_and_the_hub_forgets_it():
    hub = live.Hub()
    card = subscribe(hub, "1:client:5")
    twin = subscribe(hub, "1:client:5")
    card.close()
    assert hub.everyone() == {twin}
    hub.wake({"1:client:5"})
    assert not await woken(card, within=0.05)
    assert await woken(twin)
    twin.close()
    assert hub.everyone() == set()


async def test_a_waiting_stream_reads_again_after_at_most_its_interval_unwoken():
    hub = live.Hub()
    card = subscribe(hub, "1:client:5")
    assert await asyncio.wait_for(card.wait(at_most=0.05), 5) is True


async def test_everyone_is_woken_after_a_reconnect_and_told_when_the_server_stops():
    hub = live.Hub()
    cards = [subscribe(hub, f"1:client:{n}") for n in range(3)]
    hub.wake_all()
    assert [await woken(card) for card in cards] == [True] * 3
    hub.close_all()
    assert [await asyncio.wait_for(card.wait(), 5) for card in cards] == [False] * 3


async def test_the_local_bus_wakes_a_topic_s_subscribers_after_the_commit_only(db):
    hub = live.Hub()
    db.after_commit = live.LocalBus(hub).publish  # as the app wires it
    card = subscribe(hub, events.client_topic(1, 5))
    async with db.transaction():
        await events.emit(db, 1, events.client_topic(1, 5), events.CALL_UPDATED, {"client_id": 5})
        assert not await woken(card, within=0.05)  # not before the commit
    assert await woken(card)

    with pytest.raises(RuntimeError):
        async with db.transaction():
            await events.emit(db, 1, events.client_topic(1, 5), events.CALL_UPDATED, {})
            raise RuntimeError("rolled back")
    assert not await woken(card, within=0.05)


def test_the_bus_is_redis_when_configured_else_postgresql_else_this_process_alone():
    hub = live.Hub()
    assert type(live.make_bus(hub, "postgresql://db/crm", REDIS_URL)) is live.RedisBus
    assert type(live.make_bus(hub, "postgresql://db/crm", None)) is live.PostgresBus
    assert type(live.make_bus(hub, "sqlite:///crm.sqlite3", None)) is live.LocalBus


# The shared buses: two of them stand for two processes.


@pytest.fixture
async def redis_url():
    client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except Exception as e:  # no Redis on this machine: nothing to test against
        pytest.skip(f"Redis is not running on {REDIS_URL} ({type(e).__name__})")
    finally:
        await client.aclose()
    return REDIS_URL


@pytest.fixture
def pg_url(pg_database):
    if not pg_database:
        pytest.skip("TEST_DATABASE_URL is not set (CI sets it)")
    return pg_database


@contextlib.asynccontextmanager
async def two_processes(bus_class, url):
    """Two buses on one service, each with its own hub, started and stopped as the app does."""
    buses = [bus_class(live.Hub(), url), bus_class(live.Hub(), url)]
    for bus in buses:
        await bus.start()
    try:
        yield buses
    finally:
        for bus in buses:
            await asyncio.wait_for(bus.stop(), 10)


async def until_heard(sender, listener, topic):
    """Announce `topic` on `sender` until a stream of `listener`'s hears it: a bus connects in
    the background, and what is sent before it listens is lost (a stream re-reads anyway)."""
    card = subscribe(listener.hub, topic)
    async with asyncio.timeout(10):
        while True:
            sender.publish({topic})
            if await woken(card, within=0.2):
                return card


async def carries_wake_ups(one, two):
    first = unique("1:client:1")
    mine = subscribe(one.hub, first)
    await until_heard(one, two, first)  # both connected from now on
    assert await woken(mine)  # woken at once, in its own process

    reply, unrelated = unique("1:client:2"), subscribe(one.hub, unique("1:client:3"))
    card = subscribe(one.hub, reply)
    two.publish({reply, unique("1:user:7")})
    assert await woken(card)
    assert not await woken(unrelated, within=0.2)
    assert not await woken(mine, within=0.2)  # its own announcement did not come back


async def test_the_redis_bus_carries_wake_ups_between_processes(redis_url):
    async with two_processes(live.RedisBus, redis_url) as (one, two):
        await carries_wake_ups(one, two)


async def test_the_postgresql_bus_carries_wake_ups_between_processes(pg_url):
    async with two_processes(live.PostgresBus, pg_url) as (one, two):
        await carries_wake_ups(one, two)


async def test_the_postgresql_bus_splits_many_topics_into_notifications_it_accepts(pg_url):
    async with two_processes(live.PostgresBus, pg_url) as (one, two):
        await until_heard(one, two, unique("warm-up"))
        topics = [unique(f"1:client:{n:05}") for n in range(600)]  # ~13 KB, NOTIFY takes 8 KB
        first, last = subscribe(two.hub, topics[0]), subscribe(two.hub, topics[-1])
        one.publish(set(topics))
        assert await woken(first) and await woken(last)


async def test_after_the_postgresql_connection_drops_the_bus_reconnects_and_wakes_everyone(
    pg_url,
):
    async with two_processes(live.PostgresBus, pg_url) as (one, two):
        await until_heard(one, two, unique("warm-up"))
        open_card = subscribe(two.hub, unique("1:client:9"))
        conn = await asyncpg.connect(pg_url)
        try:  # the buses are the only other sessions on the test database now
            dropped = await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await conn.close()
        assert dropped >= 2
        # Anything announced meanwhile may be lost, so every open stream reads again.
        assert await woken(open_card, within=10)
        await until_heard(one, two, unique("after"))
