"""Addresses built from route names (`web/routes.py`), so that no path is written twice.

Pages link with paths, not absolute URLs: behind a proxy the host the app sees is not the one
the browser used, while a path (with the app's `root_path`) is right everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse


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
    # Text parameters (a variable's name) may hold any character: quoted, they stay one segment.
    params = {k: quote(v, safe="") if isinstance(v, str) else v for k, v in path_params.items()}
    return with_query(request.url_for(name, **params).path, query, fragment)


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
