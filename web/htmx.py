"""What an htmx request asks for: a fragment instead of the whole page."""

from starlette.requests import Request


def wants_fragment(request: Request) -> bool:
    """True for htmx requests that swap a part of the page (boosted ones get the page)."""
    return request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != (
        "true"
    )
