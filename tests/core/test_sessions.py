"""Server-side sessions: started at sign-in, resolved from a cookie's token, ended on purpose
or by idleness, and ended with a new password, a new role or deactivation."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from core import clock, employees, sessions
from core.employees import EmployeeInput
from core.errors import ValidationError
from core.passwords import Passwords
from core.tables import sessions as sessions_table
from tests.support import builders

pytestmark = pytest.mark.anyio
cheap = Passwords(cheap=True)
LIFETIME = sessions.Lifetime(idle=timedelta(hours=12), absolute=timedelta(days=30))
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.fixture
def moved_clock(monkeypatch):
    """Move time forward: `move(hours=13)`; every `clock.now()` sees it."""
    real_now = clock.now
    offset = timedelta()

    def move(**delta):
        nonlocal offset
        offset += timedelta(**delta)

    monkeypatch.setattr(clock, "now", lambda: real_now() + offset)
    return move


async def test_a_token_leads_to_its_session_and_only_its_hash_is_stored(db):
    anna = await builders.admin(db)
    token, session_id = await sessions.start(
        db, anna["id"], anna["project_id"], address="203.0.113.7", user_agent=CHROME
    )
    session = await sessions.resolve(db, token, LIFETIME)
    assert session is not None
    assert (session["id"], session["user_id"], session["project_id"]) == (
        session_id,
        anna["id"],
        anna["project_id"],
    )
    assert session["address"] == "203.0.113.7" and session["user_agent"] == CHROME
    stored = await db.fetch_all(sa.select(sessions_table))
    assert token not in str(stored)  # a copy of the table gives no working cookie
    assert await sessions.resolve(db, token + "x", LIFETIME) is None
    assert await sessions.resolve(db, "", LIFETIME) is None


async def test_a_long_user_agent_is_cut(db):
    anna = await builders.admin(db)
    token, _ = await sessions.start(db, anna["id"], anna["project_id"], user_agent="x" * 5000)
    session = await sessions.resolve(db, token, LIFETIME)
    assert session is not None and len(session["user_agent"]) == sessions.USER_AGENT_LENGTH


async def test_an_idle_session_expires_and_use_keeps_it_alive(db, moved_clock):
    anna = await builders.admin(db)
    used, _ = await sessions.start(db, anna["id"], anna["project_id"])
    left, _ = await sessions.start(db, anna["id"], anna["project_id"])
    moved_clock(hours=11)
    assert await sessions.resolve(db, used, LIFETIME) is not None  # marks it as used now
    moved_clock(hours=2)
    assert await sessions.resolve(db, left, LIFETIME) is None  # 13 h without use
    assert await sessions.resolve(db, used, LIFETIME) is not None  # used 2 h ago


async def test_a_session_in_use_still_ends_at_its_absolute_age(db, moved_clock):
    anna = await builders.admin(db)
    token, _ = await sessions.start(db, anna["id"], anna["project_id"])
    for _used in range(71):  # every 10 hours, for 710 hours
        moved_clock(hours=10)
        assert await sessions.resolve(db, token, LIFETIME) is not None
    moved_clock(hours=10)  # 30 days since sign-in
    assert await sessions.resolve(db, token, LIFETIME) is None


async def test_last_activity_is_written_at_most_once_a_minute(db, moved_clock):
    anna = await builders.admin(db)
    token, session_id = await sessions.start(db, anna["id"], anna["project_id"])
    started = (await sessions.list_sessions(db, anna["id"], LIFETIME))[0]["last_seen_at"]
    moved_clock(seconds=30)
    await sessions.resolve(db, token, LIFETIME)
    assert (await sessions.list_sessions(db, anna["id"], LIFETIME))[0]["last_seen_at"] == started
    moved_clock(seconds=40)
    await sessions.resolve(db, token, LIFETIME)
    [seen] = await sessions.list_sessions(db, anna["id"], LIFETIME)
    assert seen["id"] == session_id and seen["last_seen_at"] > started + timedelta(seconds=60)


async def test_ending_one_all_or_all_others(db):
    anna = await builders.admin(db)
    ivan = await builders.manager(db, anna["project_id"])
    a1, a1_id = await sessions.start(db, anna["id"], anna["project_id"])
    a2, a2_id = await sessions.start(db, anna["id"], anna["project_id"])
    a3, a3_id = await sessions.start(db, anna["id"], anna["project_id"])
    i1, _ = await sessions.start(db, ivan["id"], ivan["project_id"])

    await sessions.end(db, a1_id)
    assert await sessions.resolve(db, a1, LIFETIME) is None
    assert not await sessions.is_open(db, a1_id, LIFETIME)
    assert await sessions.is_open(db, a2_id, LIFETIME)

    assert not await sessions.end_one_of(db, ivan["id"], a2_id)  # not Ivan's to end
    assert await sessions.resolve(db, a2, LIFETIME) is not None

    assert await sessions.end_all(db, anna["project_id"], anna["id"], except_id=a3_id) == 1
    assert await sessions.resolve(db, a2, LIFETIME) is None
    assert await sessions.resolve(db, a3, LIFETIME) is not None
    assert await sessions.resolve(db, i1, LIFETIME) is not None  # someone else's stays
    listed = await sessions.list_sessions(db, anna["id"], LIFETIME)
    assert [s["id"] for s in listed] == [a3_id]


async def test_ending_sessions_wakes_the_employees_open_streams(db):
    anna = await builders.admin(db)
    await sessions.start(db, anna["id"], anna["project_id"])
    heard: list[set[str]] = []
    db.after_commit = heard.append
    try:
        await sessions.end_all(db, anna["project_id"], anna["id"])
    finally:
        db.after_commit = None
    assert any(f"{anna['project_id']}:user:{anna['id']}" in topics for topics in heard)


async def test_purge_deletes_only_expired_sessions(db, moved_clock):
    anna = await builders.admin(db)
    await sessions.start(db, anna["id"], anna["project_id"])
    moved_clock(hours=13)
    _, fresh_id = await sessions.start(db, anna["id"], anna["project_id"])
    await sessions.purge(db, LIFETIME)
    assert await db.fetch_all(sa.select(sessions_table.c.id)) == [{"id": fresh_id}]


async def test_a_reset_password_a_new_role_and_deactivation_end_every_session(db):
    anna = await builders.admin(db)
    ivan = await builders.manager(db, anna["project_id"], email="ivan@romashka.ru")
    project_id = anna["project_id"]

    async def signed_in() -> str:
        token, _ = await sessions.start(db, ivan["id"], project_id)
        return token

    def form(**changes):
        return EmployeeInput(**{"name": "Иван Петров", "email": "ivan@romashka.ru", **changes})

    token = await signed_in()
    await employees.update_employee(db, cheap, project_id, ivan["id"], form(name="Иван П."))
    assert await sessions.resolve(db, token, LIFETIME) is not None  # a new name ends nothing

    await employees.update_employee(
        db, cheap, project_id, ivan["id"], form(password="new-kitchen-42")
    )
    assert await sessions.resolve(db, token, LIFETIME) is None

    token = await signed_in()
    await employees.update_employee(db, cheap, project_id, ivan["id"], form(role="admin"))
    assert await sessions.resolve(db, token, LIFETIME) is None

    token = await signed_in()
    await employees.set_active(db, project_id, ivan["id"], False, acting_user_id=anna["id"])
    assert await sessions.resolve(db, token, LIFETIME) is None


async def test_a_refused_change_ends_no_session(db):
    anna = await builders.admin(db)
    token, _ = await sessions.start(db, anna["id"], anna["project_id"])
    only_admin = EmployeeInput(name="Анна", email=anna["email"], role="manager")
    with pytest.raises(ValidationError):
        await employees.update_employee(db, cheap, anna["project_id"], anna["id"], only_admin)
    assert await sessions.resolve(db, token, LIFETIME) is not None


async def test_changing_ones_own_password_keeps_this_session_and_ends_the_others(db):
    anna = await builders.admin(db)
    here, here_id = await sessions.start(db, anna["id"], anna["project_id"])
    there, _ = await sessions.start(db, anna["id"], anna["project_id"])
    with pytest.raises(ValidationError) as wrong:
        await employees.change_own_password(
            db, cheap, anna["id"], "not-my-password", "brand-new-kitchen", keep_session=here_id
        )
    assert list(wrong.value.errors) == ["current_password"]
    with pytest.raises(ValidationError) as weak:
        await employees.change_own_password(
            db, cheap, anna["id"], builders.PASSWORD, "password", keep_session=here_id
        )
    assert list(weak.value.errors) == ["password"]
    assert await sessions.resolve(db, there, LIFETIME) is not None  # nothing changed yet

    ended = await employees.change_own_password(
        db, cheap, anna["id"], builders.PASSWORD, "brand-new-kitchen", keep_session=here_id
    )
    assert ended == 1
    assert await sessions.resolve(db, here, LIFETIME) is not None
    assert await sessions.resolve(db, there, LIFETIME) is None
    assert (await employees.authenticate(db, cheap, anna["email"], "brand-new-kitchen"))["id"]


@pytest.mark.parametrize(
    ("user_agent", "shown"),
    [
        (CHROME, "Chrome 131, Windows"),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Safari 17, iPhone",
        ),
        (
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox 133, Linux",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/130.0.0.0 YaBrowser/24.10.1.100 Mobile Safari/537.36",
            "Яндекс Браузер 24, Android",
        ),
        (CHROME + " Edg/131.0.2903.86", "Edge 131, Windows"),
        ("curl/8.5.0", ""),
    ],
)
def test_the_device_is_named_as_people_know_it(user_agent, shown):
    assert sessions.device(user_agent) == shown
