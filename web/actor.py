"""Who is acting, and from where, for «Журнал действий» (`core.audit`)."""

from __future__ import annotations

from starlette.requests import Request

from core.audit import Actor


def client_address(request: Request) -> str:
    """The client's address as uvicorn reports it (it has read the proxy headers from the
    addresses in `FORWARDED_ALLOW_IPS`)."""
    return request.client.host if request.client else ""


def actor(request: Request) -> Actor:
    """The signed-in employee (a guarded view has loaded them) at the client's address."""
    return Actor(request.state.user["id"], client_address(request))
