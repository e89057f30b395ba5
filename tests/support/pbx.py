"""Our PBX simulator served on 127.0.0.1 for core tests that call a PBX: what it was asked to
do, and how it should misbehave next. It posts no webhooks back (no CRM address is set)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from tests.support.servers import LiveServer
from web.pbx_simulator import SimulatorConfig, create_simulator

TOKEN = "pbx-secret-token-1234"


class SimulatedPbx:
    """A running simulator: its address (the «Megafon domain») and its controls."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.token = TOKEN

    def calls(self) -> list[dict[str, str]]:
        """The makeCall requests it accepted, oldest first."""
        return httpx.get(self.url + "/simulator/calls", timeout=5).json()

    def behave(self, **behaviour: Any) -> None:
        """Slow (`delay` seconds) or failing (`fail_status`) from now on; 0 undoes either."""
        response = httpx.post(self.url + "/simulator/behaviour", json=behaviour, timeout=5)
        assert response.status_code == 200, response.text


@contextmanager
def simulated_pbx(**options: Any) -> Iterator[SimulatedPbx]:
    """`options` go to `SimulatorConfig` (`rest=False`: a PBX with only the legacy API)."""
    config = SimulatorConfig(api_key=TOKEN, step_delay=0.01, **options)
    with LiveServer(create_simulator(config)) as server:
        yield SimulatedPbx(server.url)
