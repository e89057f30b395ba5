"""Issue 11: the PBX's address must be public, checked for the address actually connected to."""

from __future__ import annotations

import ipaddress
import socket

import httpcore
import httpx
import pytest

from core.telephony import public_address
from core.telephony.pbx_client import PbxAddressNotAllowed, PbxClient
from core.telephony.public_address import (
    NotPublicAddress,
    PublicOnlyBackend,
    PublicOnlyTransport,
    is_public,
    literal,
    public_only,
)
from tests.support.servers import LiveServer

pytestmark = pytest.mark.anyio

NOT_PUBLIC = [
    "127.0.0.1",
    "127.1.2.3",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # shared address space (CGNAT)
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "2002:7f00:1::",  # 6to4 around 127.0.0.1
    "64:ff9b::a00:1",  # NAT64 around 10.0.0.1
]
PUBLIC = ["8.8.8.8", "93.158.134.3", "2a00:1450:4010:c05::64", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("text", NOT_PUBLIC)
def test_loopback_private_link_local_unspecified_and_multicast_are_not_public(text):
    assert not is_public(ipaddress.ip_address(text))


@pytest.mark.parametrize("text", PUBLIC)
def test_global_addresses_are_public(text):
    assert is_public(ipaddress.ip_address(text))


@pytest.mark.parametrize(
    "host, address",
    [
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
    ],
)
def test_every_spelling_of_an_address_is_read_as_the_address(host, address):
    assert literal(host) == ipaddress.ip_address(address)


def test_a_name_is_not_an_address():
    assert literal("vats123456.megapbx.ru") is None


def test_one_private_address_among_the_answers_refuses_the_name():
    with pytest.raises(NotPublicAddress):
        public_only("mixed.example", ["8.8.8.8", "10.0.0.1"])
    assert public_only("ok.example", ["8.8.8.8"]) == ["8.8.8.8"]


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "0x7f.0.0.1", "2130706433", "localhost", "::1", "::ffff:127.0.0.1", "0.0.0.0"],
)
async def test_the_real_resolver_leads_these_to_loopback_and_they_are_refused(host):
    try:
        backend = PublicOnlyBackend()
        with pytest.raises(NotPublicAddress):
            await backend.connect_tcp(host, 9, timeout=2)
    except httpcore.ConnectError as e:  # pragma: no cover - a machine without IPv6 names
        pytest.skip(f"{host} does not resolve here: {e}")


class Rebinding:
    """A DNS server that answers a public address first, then 127.0.0.1 (DNS rebinding)."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return [self.answers.pop(0)] if len(self.answers) > 1 else [self.answers[0]]


async def test_dns_rebinding_is_refused_at_connect_time():
    """Whatever the name resolved to before (a check at save time, an earlier request), the
    address connected to is checked when connecting."""
    resolver = Rebinding("93.158.134.3", "127.0.0.1")
    assert public_only("pbx.example", await resolver("pbx.example", 443))  # first: public
    async with httpx.AsyncClient(transport=PublicOnlyTransport(resolver)) as http:
        with pytest.raises(NotPublicAddress) as refused:
            await http.get("http://pbx.example:9/crmapi/v1/users")
    assert refused.value.address == "127.0.0.1"
    assert resolver.asked == ["pbx.example", "pbx.example"]


async def test_the_checked_address_is_connected_to_and_the_name_is_kept_for_host(monkeypatch):
    """The connection goes to the address the check passed, never to the name again (no DNS
    server knows `pbx.example`); the request still names the host (and TLS would verify it)."""
    seen: list[str] = []

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        seen.append(dict(scope["headers"])[b"host"].decode())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"[]"})

    async def resolver(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    monkeypatch.setattr(public_address, "is_public", lambda address: True)  # loopback stands in
    with LiveServer(app) as server:
        port = int(server.url.rsplit(":", 1)[1])
        async with httpx.AsyncClient(transport=PublicOnlyTransport(resolver)) as http:
            response = await http.get(f"http://pbx.example:{port}/crmapi/v1/users")
    assert response.status_code == 200
    assert seen == [f"pbx.example:{port}"]


async def test_an_unknown_name_is_a_connect_error():
    async def nowhere(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async with httpx.AsyncClient(transport=PublicOnlyTransport(nowhere)) as http:
        with pytest.raises(httpx.ConnectError, match="name resolution"):
            await http.get("https://nowhere.example/")


async def test_the_pbx_client_says_the_address_is_not_allowed():
    async def loopback(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    async with httpx.AsyncClient(transport=PublicOnlyTransport(loopback)) as http:
        pbx = PbxClient(http, "https://pbx.example", "secret")
        with pytest.raises(PbxAddressNotAllowed) as refused:
            await pbx.users()
    assert "ведёт во внутреннюю сеть" in refused.value.message
    assert "https://pbx.example" in refused.value.message


def test_the_app_transport_is_chosen_by_the_setting():
    assert isinstance(public_address.transport(allow_private=False), PublicOnlyTransport)
    assert not isinstance(public_address.transport(allow_private=True), PublicOnlyTransport)
