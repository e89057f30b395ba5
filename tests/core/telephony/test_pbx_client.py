"""The PBX client against every reply shape PROTOCOL.md §2 lists (an injected transport);
the real HTTP path to our simulator is in tests/web/test_calls_from_crm.py."""

import json

import httpx
import pytest

from core.errors import ValidationError
from core.i18n import use_language
from core.telephony.pbx_client import (
    Api,
    PbxBadToken,
    PbxClient,
    PbxFailed,
    PbxInvalidRequest,
    PbxUnreachable,
    base_url,
)

pytestmark = pytest.mark.anyio
BASE = "https://vats123456.megapbx.ru"


def pbx(handler, api=""):
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return PbxClient(http, BASE, "secret", api)


def rest_only(response):
    def handler(request):
        assert request.url.path == "/crmapi/v1/makecall"
        assert request.headers["X-API-KEY"] == "secret"
        assert json.loads(request.content) == {"user": "ivanov", "phone": "79265550101"}
        return response

    return handler


@pytest.mark.parametrize(
    "response, callid",
    [
        (httpx.Response(200, json={"callid": "c-1"}), "c-1"),
        (httpx.Response(200, json={"uuid": "4122465154"}), "4122465154"),
        (httpx.Response(200, json={"CallID": 77}), "77"),
        (httpx.Response(200, json="bare-id"), "bare-id"),
        (httpx.Response(200, json={}), ""),
        (httpx.Response(200, text=""), ""),
        (httpx.Response(200, text="OK"), ""),
        (httpx.Response(200, text="{uuid: 'abc-1'}"), "abc-1"),  # unquoted keys
        (httpx.Response(200, text="abc-2"), "abc-2"),
    ],
)
async def test_every_make_call_reply_shape_is_a_success(response, callid):
    client = pbx(rest_only(response))
    assert await client.make_call("ivanov", "79265550101") == callid
    assert client.api == Api.REST


async def test_a_pbx_without_rest_is_called_on_the_legacy_api_and_remembered():
    seen = []

    def handler(request):
        seen.append(request.url.path)
        if request.url.path.startswith("/crmapi/"):
            return httpx.Response(404, text="Not Found")
        form = dict(httpx.QueryParams(request.content.decode()))
        assert form == {
            "cmd": "makeCall",
            "user": "ivanov",
            "phone": "79265550101",
            "token": "secret",
        }
        return httpx.Response(200, json={"uuid": "u-1"})

    client = pbx(handler)
    assert await client.make_call("ivanov", "79265550101") == "u-1"
    assert client.api == Api.LEGACY
    assert await client.make_call("ivanov", "79265550101") == "u-1"
    assert seen == ["/crmapi/v1/makecall", "/sys/crm_api.wcgp", "/sys/crm_api.wcgp"]


async def test_a_json_404_from_rest_is_an_unknown_employee_not_a_missing_api():
    client = pbx(rest_only(httpx.Response(404, json={"message": "User not found"})))
    with pytest.raises(PbxInvalidRequest) as raised:
        await client.make_call("ivanov", "79265550101")
    assert raised.value.detail == "User not found"
    assert raised.value.message == (
        "Сотрудник «ivanov» не найден в АТС: проверьте поле «Логин, внутренний номер "
        "или прямой номер в АТС» в карточке сотрудника (раздел «Сотрудники»)."
    )


@pytest.mark.parametrize(
    "said, explained",
    [
        ({"message": "user not found."}, "Сотрудник «ivanov» не найден в АТС"),
        ({"error": "Invalid user"}, "Сотрудник «ivanov» не найден в АТС"),
        ({"message": "Client not found"}, "АТС не может позвонить на номер +7 926 555-01-01"),
        ({"error": "Invalid parameters"}, "она не знает сотрудника «ivanov» или номер +7 926"),
        ({"error": "Invalid parameters: [cmd]"}, "АТС не поддерживает эту команду"),
        ({"message": "Trunk is down"}, "АТС не приняла запрос и ответила: «Trunk is down»."),
    ],
)
async def test_the_pbx_refusals_are_explained_in_the_interface_language(said, explained):
    with pytest.raises(PbxInvalidRequest) as raised:
        await pbx(rest_only(httpx.Response(400, json=said))).make_call("ivanov", "79265550101")
    assert explained in raised.value.message


async def test_in_english_the_explanation_is_english():
    with use_language("en"), pytest.raises(PbxInvalidRequest) as raised:
        await pbx(rest_only(httpx.Response(404, json={"message": "User not found"}))).make_call(
            "ivanov", "79265550101"
        )
    assert raised.value.message.startswith("Employee «ivanov» was not found in the PBX")


@pytest.mark.parametrize(
    "response, error",
    [
        (httpx.Response(401, json={"message": "Invalid token"}), PbxBadToken),
        (httpx.Response(400, json={"message": "Invalid parameters"}), PbxInvalidRequest),
        (httpx.Response(502, text="502 Gateway Timeout"), PbxFailed),
        (httpx.Response(301, headers={"Location": "https://megapbx.ru/"}), PbxUnreachable),
        (httpx.Response(200, text="<html>что-то не то</html>"), PbxFailed),
    ],
)
async def test_failures_are_typed_and_worded(response, error):
    with pytest.raises(error) as raised:
        await pbx(rest_only(response)).make_call("ivanov", "79265550101")
    assert raised.value.message and "Traceback" not in raised.value.message


async def test_network_failures_are_unreachable_in_plain_words():
    def timeout(request):
        raise httpx.ReadTimeout("slow", request=request)

    def refused(request):
        raise httpx.ConnectError("Connection refused", request=request)

    with pytest.raises(PbxUnreachable, match="нет ответа"):
        await pbx(timeout).make_call("ivanov", "79265550101")
    with pytest.raises(PbxUnreachable, match="не удалось соединиться"):
        await pbx(refused).make_call("ivanov", "79265550101")


async def test_users_on_rest_and_legacy():
    def rest(request):
        return httpx.Response(
            200, json={"items": [{"login": "ivanov", "name": "Иван", "ext": "701"}], "info": {}}
        )

    def legacy(request):
        if request.url.path.startswith("/crmapi/"):
            return httpx.Response(404, text="Not Found")
        return httpx.Response(200, json=[{"name": "ivanov", "realName": "Иван", "ext": 701}])

    for handler in (rest, legacy):
        users = await pbx(handler).users()
        assert [(u.login, u.name, u.ext) for u in users] == [("ivanov", "Иван", "701")]


@pytest.mark.parametrize(
    "raw, url",
    [
        ("vats123456.megapbx.ru", BASE),
        ("  https://vats123456.megapbx.ru/ ", BASE),
        ("https://vats123456.megapbx.ru/crmapi/v1", BASE),
        ("https://vats123456.megapbx.ru/crmapi/v1/", BASE),
        ("https://VATS123456.megapbx.ru/sys/crm_api.wcgp", BASE),
        ("http://127.0.0.1:8010", "http://127.0.0.1:8010"),
        ("http://localhost:8010/crmapi/v1", "http://localhost:8010"),
    ],
)
def test_the_domain_is_read_in_every_form_the_cabinet_shows(raw, url):
    assert base_url(raw, allow_private=True) == url


@pytest.mark.parametrize(
    "raw",
    [
        "http://127.0.0.1:8010",
        "https://10.0.0.5",
        "https://169.254.169.254",
        "https://[::1]:8010",
        "https://0x7f.0.0.1",
        "https://2130706433",
        "https://[::ffff:127.0.0.1]",
        "https://0.0.0.0",
    ],
)
def test_a_non_public_ip_address_is_refused_when_saved(raw):
    with pytest.raises(ValidationError) as raised:
        base_url(raw)
    assert "не публичный адрес" in raised.value.errors["domain"]


def test_a_public_ip_address_is_accepted():
    assert base_url("https://8.8.8.8:8443") == "https://8.8.8.8:8443"


async def test_a_failure_says_what_went_wrong_without_repeating_what_answered():
    page = "<html><body>internal admin panel: secret=42</body></html>"
    for response in (httpx.Response(500, text=page), httpx.Response(200, text=page)):
        with pytest.raises(PbxFailed) as raised:
            await pbx(rest_only(response)).make_call("ivanov", "79265550101")
        assert "secret" not in raised.value.message and "<html>" not in raised.value.message
        assert f"HTTP {response.status_code}" in raised.value.message
    failed = httpx.Response(503, json={"message": "Service is under maintenance"})
    with pytest.raises(PbxFailed) as raised:
        await pbx(rest_only(failed)).make_call("ivanov", "79265550101")
    assert "HTTP 503 Service Unavailable: Service is under maintenance" in raised.value.message


@pytest.mark.parametrize(
    "raw",
    ["", "http://vats123456.megapbx.ru", "ftp://vats.ru", "vats", "https://a.ru/other", "a b.ru"],
)
def test_a_bad_domain_is_refused_with_a_reason(raw):
    with pytest.raises(ValidationError) as raised:
        base_url(raw)
    assert raised.value.errors["domain"]
