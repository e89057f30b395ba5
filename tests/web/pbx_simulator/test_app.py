"""The simulator's app: one route table, every route named."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import web.pbx_simulator.app
from web.pbx_simulator import SimulatorConfig, create_simulator


def test_every_route_is_named_in_the_table() -> None:
    tree = ast.parse(Path(web.pbx_simulator.app.__file__).read_text(encoding="utf-8"))
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    routes = [c for c in calls if isinstance(c.func, ast.Name) and c.func.id == "Route"]
    assert len(routes) == len(create_simulator(SimulatorConfig(api_key="k")).routes)
    assert all(any(k.arg == "name" for k in route.keywords) for route in routes)


def test_a_pbx_without_employees_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one PBX user"):
        create_simulator(SimulatorConfig(api_key="k", users=[]))
