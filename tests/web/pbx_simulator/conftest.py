"""Fixtures: a capturing CRM on one port and the PBX simulator, posting to it, on another."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.servers import LiveServer
from tests.support.simulator import CapturingCrm, simulator


@pytest.fixture
def crm() -> Iterator[CapturingCrm]:
    capturing = CapturingCrm()
    with LiveServer(capturing.app) as server:
        capturing.url = f"{server.url}/megafon_webhook"
        yield capturing


@pytest.fixture
def pbx(crm: CapturingCrm) -> Iterator[httpx.Client]:
    with simulator(crm) as client:
        yield client
