"""A project's MegaFon PBX account («Телефония»): connect, change in place, never show the token
back, check against our PBX simulator and keep the outcome, disconnect."""

import pytest

from core.errors import ValidationError
from core.telephony import connection
from core.telephony.pbx_client import PbxBadToken, PbxNotConnected, PbxUnreachable
from tests.support import builders
from tests.support.pbx import TOKEN, simulated_pbx

pytestmark = pytest.mark.anyio
DOMAIN = "https://vats123456.megapbx.ru"


async def project_of(db):
    return (await builders.admin(db))["project_id"]


async def test_saving_connects_the_project_with_the_domain_as_the_cabinet_shows_it(db):
    project = await project_of(db)
    assert await connection.get(db, project) is None
    saved = await connection.save(db, project, f"  {TOKEN} ", "vats123456.megapbx.ru/crmapi/v1/")
    assert saved["base_url"] == DOMAIN
    assert saved["api_token"] == TOKEN
    assert (saved["api"], saved["checked_at"], saved["check_result"]) == ("", None, "")
    assert saved["connected_at"] is not None
    assert await connection.get(db, project) == saved


async def test_connecting_needs_a_token_and_a_pbx_address_and_names_every_mistake(db):
    project = await project_of(db)
    with pytest.raises(ValidationError) as refused:
        await connection.save(db, project, "", "http://vats123456.megapbx.ru")
    assert set(refused.value.errors) == {"token", "domain"}
    assert "API token" in refused.value.errors["token"]
    assert "https://" in refused.value.errors["domain"]
    with pytest.raises(ValidationError) as spaced:
        await connection.save(db, project, "two words", DOMAIN)
    assert "без пробелов" in spaced.value.errors["token"]
    assert await connection.get(db, project) is None


async def test_a_blank_token_keeps_the_stored_one_while_the_domain_changes(db):
    project = await project_of(db)
    first = await connection.save(db, project, TOKEN, DOMAIN)
    moved = await connection.save(db, project, "", "vats654321.megapbx.ru")
    assert moved["base_url"] == "https://vats654321.megapbx.ru"
    assert moved["api_token"] == TOKEN
    assert moved["connected_at"] == first["connected_at"]  # changed in place, still connected


async def test_a_new_token_for_the_same_pbx_keeps_its_api_and_another_pbx_forgets_it(db, http, pbx):
    project = await project_of(db)
    await connection.save(db, project, TOKEN, pbx.url, allow_private=True)
    await connection.check(db, http, project)
    assert (await connection.get(db, project))["api"] == "rest"

    renewed = await connection.save(db, project, "another-token-5678", pbx.url, allow_private=True)
    assert (renewed["api_token"], renewed["api"]) == ("another-token-5678", "rest")
    assert (renewed["checked_at"], renewed["check_result"]) == (None, "")  # to check again

    elsewhere = await connection.save(db, project, "", DOMAIN)
    assert (elsewhere["api_token"], elsewhere["api"]) == ("another-token-5678", "")


async def test_saving_the_same_settings_again_changes_nothing(db, http, pbx):
    project = await project_of(db)
    await connection.save(db, project, TOKEN, pbx.url, allow_private=True)
    await connection.check(db, http, project)
    checked = await connection.get(db, project)
    saved = await connection.save(db, project, "", pbx.url + "/crmapi/v1", allow_private=True)
    assert saved == checked
    assert await connection.save(db, project, TOKEN, pbx.url, allow_private=True) == checked


@pytest.mark.parametrize(
    "token, shown",
    [
        (TOKEN, "••••••••1234"),
        ("abcdefghi", "••••••••fghi"),
        ("abcdefgh", "••••••••"),  # too short to show any of it
        ("", "••••••••"),
    ],
)
def test_the_token_is_shown_masked_with_only_its_last_four_characters(token, shown):
    assert connection.masked(token) == shown


async def test_a_check_lists_the_pbx_employees_and_records_that_it_worked(db, http, pbx):
    project = await project_of(db)
    await connection.save(db, project, TOKEN, pbx.url, allow_private=True)
    users = await connection.check(db, http, project)
    assert [(u.login, u.ext) for u in users] == [
        ("admin", "700"),
        ("ivanov", "701"),
        ("sidorova", "702"),
    ]
    checked = await connection.get(db, project)
    assert checked["checked_at"] is not None
    assert checked["check_result"] == ""


async def test_a_failed_check_records_why_in_plain_words(db, http, pbx):
    project = await project_of(db)
    await connection.save(db, project, "wrong-token", pbx.url, allow_private=True)
    with pytest.raises(PbxBadToken) as refused:
        await connection.check(db, http, project)
    checked = await connection.get(db, project)
    assert checked["checked_at"] is not None
    assert checked["check_result"] == refused.value.message
    assert "АТС отклонила API token" in checked["check_result"]

    await connection.save(db, project, TOKEN, pbx.url, allow_private=True)
    await connection.check(db, http, project)
    assert (await connection.get(db, project))["check_result"] == ""  # the latest outcome


async def test_an_unreachable_pbx_is_recorded_as_such(db, http):
    project = await project_of(db)
    nowhere = "http://127.0.0.1:9"  # nothing listens there
    await connection.save(db, project, TOKEN, nowhere, allow_private=True)
    with pytest.raises(PbxUnreachable):
        await connection.check(db, http, project)
    assert "не удалось соединиться" in (await connection.get(db, project))["check_result"]


async def test_a_pbx_with_only_the_legacy_api_is_remembered_by_the_check(db, http):
    project = await project_of(db)
    with simulated_pbx(rest=False) as legacy:
        await connection.save(db, project, TOKEN, legacy.url, allow_private=True)
        users = await connection.check(db, http, project)
    assert "ivanov" in [u.login for u in users]
    assert (await connection.get(db, project))["api"] == "legacy"


async def test_disconnecting_stops_calls_until_connected_again(db, http, pbx):
    project = await project_of(db)
    other = (await builders.admin(db, project="Лютик"))["project_id"]
    await connection.save(db, project, TOKEN, pbx.url, allow_private=True)
    await connection.save(db, other, TOKEN, pbx.url, allow_private=True)

    await connection.disconnect(db, project)
    assert await connection.get(db, project) is None
    with pytest.raises(PbxNotConnected) as refused:
        await connection.check(db, http, project)
    assert "не подключена" in refused.value.message
    assert await connection.get(db, other) is not None  # another project's PBX stays

    again = await connection.save(db, project, TOKEN, pbx.url, allow_private=True)
    assert again["api_token"] == TOKEN
    assert await connection.check(db, http, project)
