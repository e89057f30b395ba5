"""Which calls the CRM may place: Russian numbers always, international and premium-rate ones
only when the admin allows them; calls by bots and through the API within per-project limits."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from core import clock, employees
from core.errors import TooManyRequests, ValidationError
from core.tables import call_requests
from core.telephony import call_rules, connection, dialing
from core.telephony.call_rules import CallRefused, Destination
from tests.support import builders
from tests.support.pbx import TOKEN

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("number", "where"),
    [
        ("79161234567", Destination.RUSSIAN),  # mobile
        ("74951234567", Destination.RUSSIAN),  # Moscow landline
        ("78121234567", Destination.RUSSIAN),  # St Petersburg landline
        ("78001234567", Destination.RUSSIAN),  # 8-800: free for the caller
        ("78091234567", Destination.PREMIUM),
        ("78031234567", Destination.PREMIUM),
        ("12025550123", Destination.INTERNATIONAL),
        ("447911123456", Destination.INTERNATIONAL),
        ("375291234567", Destination.INTERNATIONAL),
        ("77011234567", Destination.INTERNATIONAL),  # +7, but Kazakhstan
    ],
)
def test_where_a_number_leads(number, where):
    assert call_rules.destination(number) is where


@pytest.fixture
async def office(db, pbx):
    admin = await builders.admin(db)
    project = admin["project_id"]
    ivan = await builders.manager(
        db, project, call_method=employees.CallMethod.MEGAFON, pbx_user="ivanov"
    )
    await connection.save(db, project, TOKEN, pbx.url, allow_private=True)
    return {"project": project, "ivan": ivan}


async def call(db, http, project, phone, source=dialing.CallSource.API, user="ivanov"):
    return await dialing.make_call(db, http, project, pbx_user=user, phone=phone, source=source)


async def requests_made(db):
    return (await db.fetch_all(sa.select(call_requests.c.phone))) or []


async def test_by_default_only_russian_numbers_are_called(db, http, pbx, office):
    project = office["project"]
    assert await call_rules.get(db, project) == call_rules.DEFAULTS
    await call(db, http, project, "+7 916 123-45-67")
    await call(db, http, project, "8 (495) 123-45-67", source=dialing.CallSource.BOT)
    with pytest.raises(CallRefused) as abroad:
        await call(db, http, project, "+1 202 555-01-23")
    assert abroad.value.message == (
        "Звонки на международные номера запрещены в настройках телефонии."
    )
    with pytest.raises(CallRefused) as premium:
        await call(db, http, project, "8 809 123-45-67", source=dialing.CallSource.BOT)
    assert "8-809" in premium.value.message
    with pytest.raises(CallRefused):
        await call(db, http, project, "+44 7911 123456", source=dialing.CallSource.CARD)
    assert [c["phone"] for c in pbx.calls()] == ["79161234567", "74951234567"]
    assert len(await requests_made(db)) == 2  # a refused call leaves no row


async def test_international_and_premium_numbers_when_the_admin_allows_them(db, http, pbx, office):
    project = office["project"]
    await call_rules.save(
        db, project, international=True, premium=False, per_minute="30", per_hour="300"
    )
    await call(db, http, project, "+1 202 555-01-23")
    with pytest.raises(CallRefused):
        await call(db, http, project, "88091234567")
    await call_rules.save(
        db, project, international=False, premium=True, per_minute="30", per_hour="300"
    )
    await call(db, http, project, "88091234567")
    with pytest.raises(CallRefused):
        await call(db, http, project, "+447911123456")
    assert [c["phone"] for c in pbx.calls()] == ["12025550123", "78091234567"]


@pytest.mark.parametrize(
    ("minute", "hour", "fields"),
    [
        ("0", "300", {"per_minute"}),
        ("30", "", {"per_hour"}),
        ("x", "10001", {"per_minute", "per_hour"}),
    ],
)
async def test_limits_must_be_whole_numbers_in_range(db, office, minute, hour, fields):
    with pytest.raises(ValidationError) as refused:
        await call_rules.save(
            db,
            office["project"],
            international=True,
            premium=True,
            per_minute=minute,
            per_hour=hour,
        )
    assert set(refused.value.errors) == fields
    assert await call_rules.get(db, office["project"]) == call_rules.DEFAULTS


async def test_calls_by_bots_and_the_api_are_limited_per_minute(db, http, pbx, office):
    project = office["project"]
    await call_rules.save(
        db, project, international=False, premium=False, per_minute="2", per_hour="300"
    )
    await call(db, http, project, "79161230001")
    await call(db, http, project, "79161230002", source=dialing.CallSource.BOT)
    with pytest.raises(TooManyRequests) as over:
        await call(db, http, project, "79161230003")
    assert 1 <= over.value.retry_after <= 60
    assert "Не больше 2 звонков в минуту" in over.value.message
    # A repeat of a call under way is no new call; a manager's click in a card is not limited.
    assert (await call(db, http, project, "79161230002", source=dialing.CallSource.BOT)).repeated
    await call(db, http, project, "79161230004", source=dialing.CallSource.CARD)
    assert len(pbx.calls()) == 3 and len(await requests_made(db)) == 3
    # Another project has limits of its own.
    other = await builders.admin(db, project="Лютик", email="boss@lutik.ru")
    await connection.save(db, other["project_id"], TOKEN, pbx.url, allow_private=True)
    await call(db, http, other["project_id"], "79161230005")


async def test_calls_by_bots_and_the_api_are_limited_per_hour(db, http, pbx, office):
    project = office["project"]
    await call_rules.save(
        db, project, international=False, premium=False, per_minute="30", per_hour="3"
    )
    long_ago = clock.now() - timedelta(minutes=50)
    for n in range(3):
        await db.execute(
            call_requests.insert().values(
                project_id=project,
                source=dialing.CallSource.API,
                pbx_user="ivanov",
                phone=f"7916123000{n}",
                state=dialing.RequestState.OK,
                created_at=long_ago - timedelta(minutes=n),
            )
        )
    with pytest.raises(TooManyRequests) as over:
        await call(db, http, project, "79161239999")
    assert "в час" in over.value.message
    # The oldest of the three counted leaves the hour in about 8 minutes.
    assert 7 * 60 < over.value.retry_after <= 8 * 60 + 1
    assert pbx.calls() == []
