"""`PbxClient.users()`: every page of REST `GET /users`, the legacy `accounts`, and a PBX that
answers garbage or never stops paging (an injected transport; the real HTTP path to our
simulator is in tests/web/test_pbx_employees.py)."""

import httpx
import pytest

from core.telephony.pbx_client import USERS_MAX_PAGES, PbxClient, PbxFailed

pytestmark = pytest.mark.anyio
BASE = "https://vats123456.megapbx.ru"


def pbx(handler):
    return PbxClient(httpx.AsyncClient(transport=httpx.MockTransport(handler)), BASE, "secret")


def staff(count):
    return [{"login": f"user{n}", "name": f"Сотрудник {n}", "ext": 100 + n} for n in range(count)]


def paged(users, *, info):
    """A REST PBX paging `users` by `start`/`limit`; `info(start, limit)` is what it says of
    what follows. The `start` of each request is kept."""
    asked = []

    def handler(request):
        assert request.url.path == "/crmapi/v1/users"
        start, limit = int(request.url.params["start"]), int(request.url.params["limit"])
        asked.append(start)
        return httpx.Response(
            200, json={"items": users[start : start + limit], **info(start, limit, len(users))}
        )

    return handler, asked


@pytest.mark.parametrize(
    "info",
    [
        lambda start, limit, total: {"info": {"start": start, "limit": limit, "total": total}},
        lambda start, limit, total: {
            "info": {"next": start + limit if start + limit < total else None}
        },
        lambda start, limit, total: {},  # no info: a full page means there may be more
    ],
    ids=["total", "next", "no-info"],
)
async def test_every_page_of_users_arrives(info):
    handler, asked = paged(staff(250), info=info)
    users = await pbx(handler).users()
    assert [u.login for u in users] == [f"user{n}" for n in range(250)]
    assert users[249].ext == "349" and users[0].name == "Сотрудник 0"
    assert asked[:3] == [0, 100, 200]


async def test_a_user_is_read_with_a_bare_login_a_direct_number_and_an_email():
    def handler(request):
        items = [
            {"login": " Petrov@vats1.megapbx.ru ", "name": "Пётр  Петров", "ext": 705},
            {"login": "", "name": "без логина"},  # nobody can be matched by it: left out
            {"login": "ivanov", "telnum": "74950000701", "email": "Ivanov@Romashka.RU"},
        ]
        return httpx.Response(200, json={"items": items, "info": {"total": 3}})

    users = await pbx(handler).users()
    assert [(u.login, u.name, u.ext, u.telnum, u.email) for u in users] == [
        ("Petrov", "Пётр Петров", "705", "", ""),
        ("ivanov", "", "", "74950000701", "ivanov@romashka.ru"),
    ]


async def test_the_legacy_accounts_carry_the_direct_number_and_the_email():
    def handler(request):
        if request.url.path.startswith("/crmapi/"):
            return httpx.Response(404, text="Not Found")
        assert dict(httpx.QueryParams(request.content.decode())) == {
            "cmd": "accounts",
            "token": "secret",
        }
        return httpx.Response(
            200,
            json=[
                {
                    "name": "ivanov",
                    "realName": "Иван Иванов",
                    "ext": "701",
                    "telnum": "74950000701",
                    "email": "ivanov@romashka.ru",
                }
            ],
        )

    client = pbx(handler)
    users = await client.users()
    assert [(u.login, u.name, u.ext, u.telnum, u.email) for u in users] == [
        ("ivanov", "Иван Иванов", "701", "74950000701", "ivanov@romashka.ru")
    ]
    assert client.api == "legacy"


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="<html>Welcome to nginx</html>"),
        httpx.Response(200, json={"items": "ivanov"}),
        httpx.Response(200, json={"items": [], "info": "none"}),
        httpx.Response(200, json="OK"),
    ],
)
async def test_a_reply_that_is_no_list_of_users_is_a_plain_failure(reply):
    with pytest.raises(PbxFailed) as failed:
        await pbx(lambda request: reply).users()
    assert "ответ не похож на список сотрудников" in failed.value.message
    assert "nginx" not in failed.value.message


async def test_a_pbx_that_never_stops_paging_is_given_up_on():
    calls = []

    def endless(request):
        calls.append(request)
        return httpx.Response(200, json={"items": staff(100), "info": {"next": "more"}})

    with pytest.raises(PbxFailed) as failed:
        await pbx(endless).users()
    assert "без конца" in failed.value.message
    assert len(calls) == USERS_MAX_PAGES
