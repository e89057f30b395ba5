"""What the simulator's tests share: a CRM that captures the webhooks, the simulator served
over real HTTP next to it, and waiting (with a timeout) for webhooks to arrive."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.servers import LiveServer
from web.pbx_simulator import SimulatorConfig, create_simulator

API_KEY = "pbx-secret"
CRM_KEY = "crm-secret"


class CapturingCrm:
    """A CRM that records every webhook's fields (query string and form) and answers 200 `{}`;
    `requests` keeps how each came: method, Content-Type, body."""

    def __init__(self) -> None:
        self.url = ""
        self.received: list[dict[str, str]] = []
        self.requests: list[tuple[str, str, bytes]] = []
        self.lock = threading.Lock()
        self.app = Starlette(routes=[Route("/megafon_webhook", self.hook, methods=["GET", "POST"])])

    async def hook(self, request: Request) -> JSONResponse:
        body = await request.body()
        async with request.form() as form:
            fields = {
                **request.query_params,
                **{k: v for k, v in form.items() if isinstance(v, str)},
            }
        with self.lock:
            self.received.append(fields)
            self.requests.append((request.method, request.headers.get("content-type", ""), body))
        return JSONResponse({})

    def of_call(self, callid: str) -> list[dict[str, str]]:
        with self.lock:
            return [f for f in self.received if f.get("callid") == callid]


def wait_for(condition: Callable[[], Any], timeout: float = 3.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the simulator")
        time.sleep(0.01)
    return result


def steps(fields: list[dict[str, str]]) -> list[tuple[str, str]]:
    """(cmd, event type or history status) for each webhook."""
    return [
        (f["cmd"], f.get("status", "") if f["cmd"] == "history" else f.get("type", ""))
        for f in fields
    ]


def call_of(crm: CapturingCrm, callid: str, count: int) -> list[dict[str, str]]:
    return wait_for(lambda: (got := crm.of_call(callid)) and len(got) >= count and got)


@contextmanager
def simulator(crm: CapturingCrm, **options: Any) -> Iterator[httpx.Client]:
    config = SimulatorConfig(
        api_key=API_KEY, crm_url=crm.url, crm_key=CRM_KEY, step_delay=0.01, **options
    )
    with LiveServer(create_simulator(config)) as server, httpx.Client(base_url=server.url) as c:
        yield c


def rest(client: httpx.Client, user: str = "ivanov", phone: str = "79265550101") -> httpx.Response:
    return client.post(
        "/crmapi/v1/makecall", json={"user": user, "phone": phone}, headers={"X-API-KEY": API_KEY}
    )
