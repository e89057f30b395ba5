"""Requests to the PBX go to public addresses only (issue 11): an admin's «Megafon domain» must
not turn the CRM into a way to read what answers at `127.0.0.1`, `10.x`, `169.254.169.254`…

The check is made where the connection is made, for the very address connected to: the
transport resolves the host itself, refuses every address that is not public, and connects to
the checked IP (TLS still verifies, and SNI and `Host` still name, the original host). So a
name that resolved to a public address a moment ago and to a private one now (DNS rebinding)
is refused too. `PBX_ALLOW_PRIVATE=1` turns the check off: our simulator runs on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses to try, as getaddrinfo gives them (tests pass a stub)
Resolver = Callable[[str, int], Awaitable[list[str]]]


class NotPublicAddress(Exception):
    """The host is, or resolves to, an address the CRM does not connect to."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolves to {address}, which is not a public address")
        self.host, self.address = host, address


def is_public(address: IPAddress) -> bool:
    """A global unicast address: not loopback, private, link-local, unspecified, multicast,
    reserved or shared (CGNAT); an IPv4 address inside IPv6 (`::ffff:127.0.0.1`, 6to4, NAT64
    …) is judged as the IPv4 address it carries."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not (
        address.is_multicast or address.is_loopback or address.is_link_local
    )


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def literal(host: str) -> IPAddress | None:
    """The IP address `host` spells in any way the resolver accepts (`127.0.0.1`, `[::1]`,
    `0x7f.0.0.1`, `2130706433`, `127.1`), or None for a name."""
    host = host.strip().strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    try:  # the shorthand and hex/octal spellings inet_aton accepts, as getaddrinfo does
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


async def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the resolver's order."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


def public_only(host: str, addresses: Iterable[str]) -> list[str]:
    """`addresses` when every one of them is public; else NotPublicAddress."""
    checked = []
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if not is_public(address):
            raise NotPublicAddress(host, text)
        checked.append(str(address))
    return checked


class PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend that resolves the host itself and connects only to public
    addresses (see the module's docstring)."""

    def __init__(self, resolver: Resolver = resolve) -> None:
        self._resolver = resolver
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = public_only(host, await self._resolver(host, port))
        except TimeoutError as e:
            raise httpcore.ConnectTimeout(f"name resolution for {host} timed out") from e
        except (socket.gaierror, UnicodeError) as e:
            raise httpcore.ConnectError(f"name resolution failed for {host}: {e}") from e
        if not addresses:
            raise httpcore.ConnectError(f"name resolution failed for {host}: no address")
        error: httpcore.ConnectError | None = None
        for address in addresses:  # the checked addresses only, never the name again
            try:
                return await self._backend.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as e:
                error = e
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("the PBX is reached over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class PublicOnlyTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (TLS verification, pooling, error mapping) over
    `PublicOnlyBackend`. A `NotPublicAddress` passes through httpx unchanged."""

    def __init__(self, resolver: Resolver = resolve) -> None:
        super().__init__()
        limits = httpx.Limits()
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PublicOnlyBackend(resolver),
        )


def transport(*, allow_private: bool) -> httpx.AsyncBaseTransport:
    """The transport for the app's PBX client: public addresses only, unless allowed."""
    return httpx.AsyncHTTPTransport() if allow_private else PublicOnlyTransport()
