"""The simulator's ASGI app: one route table, every route named, the PBX opened in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from web.pbx_simulator import api, control
from web.pbx_simulator.config import SimulatorConfig
from web.pbx_simulator.pbx import Pbx
from web.pbx_simulator.recordings import recording
from web.pbx_simulator.webhooks import CrmWebhooks

REST_PREFIX = "/crmapi/"


def create_simulator(config: SimulatorConfig) -> Starlette:
    """The simulator as an ASGI app; serve it with uvicorn (or `tests/support/servers.py`)."""
    if not config.users:
        raise ValueError("the simulator needs at least one PBX user")
    routes = [
        Route("/", control.page, name="simulator_page"),
        Route("/crmapi/v1/makecall", api.rest_makecall, methods=["POST"], name="rest_makecall"),
        Route("/crmapi/v1/users", api.rest_users, name="rest_users"),
        Route("/crmapi/v1/history/json", api.rest_history, name="rest_history"),
        Route("/sys/crm_api.wcgp", api.legacy, methods=["GET", "POST"], name="legacy_api"),
        Route("/records/{callid}.wav", recording, name="record"),
        Route("/simulator/scenario", control.scenario, methods=["POST"], name="scenario"),
        Route("/simulator/behaviour", control.behaviour, methods=["POST"], name="behaviour"),
        Route("/simulator/quirks", control.quirks, methods=["POST"], name="quirks"),
        Route("/simulator/calls", control.calls, name="calls"),
        Route("/simulator/log", control.log, name="log"),
        Route("/simulator/history", control.load_history, methods=["POST"], name="load_history"),
    ]
    if not config.rest:
        # A PBX with only the legacy API has no such paths: Starlette's plain-text 404.
        routes = [r for r in routes if not r.path.startswith(REST_PREFIX)]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Pbx]]:
        async with httpx.AsyncClient(timeout=5.0) as http:
            webhooks = CrmWebhooks(config, http)
            try:
                yield {"pbx": Pbx(config, webhooks)}
            finally:
                await webhooks.stop()

    return Starlette(routes=routes, lifespan=lifespan)
