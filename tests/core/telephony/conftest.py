"""Fixtures for the PBX's side of core: our PBX simulator on a port of its own, and an HTTP
client to reach it, as the app's lifespan opens one."""

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.support.pbx import SimulatedPbx, simulated_pbx


@pytest.fixture
def pbx() -> Iterator[SimulatedPbx]:
    with simulated_pbx() as simulator:
        yield simulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client
