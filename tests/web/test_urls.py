"""Addresses built from route names: the same paths Starlette builds, for every named route."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from starlette.requests import Request
from starlette.routing import BaseRoute, Mount, NoMatchFound

from web.app import create_app
from web.config import Settings
from web.urls import path_for, with_query

SAMPLE = {"integer": 42, "id": 42, "string": "ключ a/b", "path": "app.css"}


def _named(routes: list[BaseRoute], mounts: tuple[Mount, ...] = ()) -> list[tuple[str, dict]]:
    found = []
    for route in routes:
        name = getattr(route, "name", None)
        convertors = {k: v for m in mounts for k, v in m.param_convertors.items() if k != "path"}
        convertors |= getattr(route, "param_convertors", {})
        if name:
            params = {
                k: SAMPLE[type(c).__name__.removesuffix("Convertor").lower()]
                for k, c in convertors.items()
            }
            found.append((name, params))
        elif isinstance(route, Mount):
            found += _named(route.routes, (*mounts, route))
    return found


@pytest.fixture
def request_behind_proxy(tmp_path: Any) -> Request:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/crm.db", secret_key="x"))
    scope = {
        "type": "http",
        "router": app.router,
        "root_path": "/crm",
        "app_root_path": "/crm",
        "headers": [],
        "path": "/crm/clients",
        "query_string": b"",
        "server": ("crm.example.ru", 443),
        "scheme": "https",
    }
    return Request(scope)


def test_every_named_route_gets_the_path_starlette_would_build(request_behind_proxy):
    routes = _named(request_behind_proxy.scope["router"].routes)
    assert {"megafon_webhook", "api_callback", "client_variable_delete", "static"} <= {
        name for name, _ in routes
    }
    for name, params in routes:
        quoted = {
            k: quote(v, safe="") if isinstance(v, str) and k != "path" else v
            for k, v in params.items()
        }
        expected = request_behind_proxy.url_for(name, **quoted).path
        assert path_for(request_behind_proxy, name, **params).startswith("/crm/")
        assert path_for(request_behind_proxy, name, **params) == expected.replace("%D0", "%D0"), (
            name
        )


def test_a_text_parameter_stays_one_segment(request_behind_proxy):
    path = path_for(request_behind_proxy, "client_variable_delete", client_id=7, name="a/b c")
    assert path == "/crm/clients/7/variables/a%2Fb%20c/delete"


def test_unknown_names_and_missing_parameters_fail_as_starlettes_do(request_behind_proxy):
    with pytest.raises(NoMatchFound):
        path_for(request_behind_proxy, "no_such_route")
    with pytest.raises(NoMatchFound):
        path_for(request_behind_proxy, "client")


def test_query_strings_leave_out_empty_values():
    assert (
        with_query("/clients", {"q": "мария", "before": None, "x": ""})
        == "/clients?q=%D0%BC%D0%B0%D1%80%D0%B8%D1%8F"
    )
    assert with_query("/login", {"next": "/clients"}, "top") == "/login?next=/clients#top"
