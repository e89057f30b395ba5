"""Addresses built from route names (`web/routes.py`), so that no path is written twice.

Pages link with paths, not absolute URLs: behind a proxy the host the app sees is not the one
the browser used, while a path (with the app's `root_path`) is right everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Mount, NoMatchFound, Router, replace_params


def with_query(path: str, query: Mapping[str, Any] | None = None, fragment: str = "") -> str:
    """`path?k=v#fragment`; empty and None values are left out."""
    params = {k: v for k, v in (query or {}).items() if v is not None and v != ""}
    # safe="/" keeps `?next=/clients` readable, as people see it in the address bar
    query_string = urlencode(params, safe="/", quote_via=quote)
    return (
        path + (f"?{query_string}" if query_string else "") + (f"#{fragment}" if fragment else "")
    )


def path_for(
    request: HTTPConnection,
    name: str,
    /,
    query: Mapping[str, Any] | None = None,
    fragment: str = "",
    **path_params: Any,
) -> str:
    """The path of a named route, with an optional query string and fragment."""
    scope = request.scope
    root_path: str = scope.get("app_root_path", scope.get("root_path", ""))
    router: Router = scope["router"]
    # The same links come back on every render of a page or a live update: built once each.
    key = (id(router), root_path, name, *path_params.items())
    path = _paths.get(key)
    if path is None:
        params = {k: _quoted(k, v) for k, v in path_params.items()}
        path = root_path.rstrip("/") + _route_path(router, name, params)
        if len(_paths) >= 20_000:
            _paths.clear()
        _paths[key] = path
    return with_query(path, query, fragment) if query or fragment else path


_paths: dict[tuple[Any, ...], str] = {}


def _quoted(name: str, value: Any) -> Any:
    # Text (a variable's name) may hold any character: quoted, it stays one segment. A `path`
    # (a static file's) keeps its slashes.
    return quote(value, safe="/" if name == "path" else "") if isinstance(value, str) else value


def _route_path(router: Router, name: str, params: dict[str, Any]) -> str:
    """What `router.url_path_for` gives, without trying every route in turn: that cost about
    50 µs a link, and a card's live update renders dozens of links (bench/sse.py)."""
    try:
        mounts, route = _routes_by_name(router)[name]
    except KeyError:
        raise NoMatchFound(name, params) from None
    prefix = ""
    for mount in mounts:  # as Mount.url_path_for builds its part of the path
        path = params.get("path")  # a mount's own {path} is what follows it, not this one
        prefix_part, params = replace_params(
            mount.path_format, mount.param_convertors, {**params, "path": ""}
        )
        if path is not None:
            params["path"] = path
        prefix += prefix_part.rstrip("/")
    return prefix + str(route.url_path_for(name, **params))


Found = dict[str, tuple[tuple[Mount, ...], BaseRoute]]
_found: dict[int, tuple[Router, Found]] = {}  # by id: a Router is not hashable; kept alive here


def _routes_by_name(router: Router) -> Found:
    """Each route name, with the unnamed mounts it sits in, found once per router."""
    if (known := _found.get(id(router))) is not None:
        return known[1]
    found: Found = {}

    def walk(routes: Sequence[BaseRoute], mounts: tuple[Mount, ...]) -> None:
        for route in routes:
            name = getattr(route, "name", None)
            if name:  # a named Mount (static files) builds its own paths
                found.setdefault(name, (mounts, route))
            elif isinstance(route, Mount):
                walk(route.routes, (*mounts, route))

    walk(router.routes, ())
    _found[id(router)] = (router, found)
    return found


def redirect(
    request: HTTPConnection,
    name: str,
    /,
    query: Mapping[str, Any] | None = None,
    fragment: str = "",
    **path_params: Any,
) -> RedirectResponse:
    """303 See Other to a named route: where a form sends the browser after a POST."""
    return RedirectResponse(path_for(request, name, query, fragment, **path_params), 303)


def public_url_for(request: HTTPConnection, name: str, /, **path_params: Any) -> str:
    """An absolute address for another system to call (the PBX): `PUBLIC_URL` when set."""
    public: str | None = request.state.settings.public_url
    if public:
        router = request.scope.get("router") or request.scope["app"]
        return public + str(router.url_path_for(name, **path_params))
    return str(request.url_for(name, **path_params))
