"""`BodyLimit` and `FormBodies` as ASGI pieces: what the app behind them receives."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from web.body_limits import BodyLimit, FormBodies

pytestmark = pytest.mark.anyio


def plain(
    request: Request, status: int, message: str, details: Mapping[str, str] | None
) -> Response:
    return PlainTextResponse(message, status_code=status)


class Recorder:
    """An app that reads the whole body, keeping every message it got."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            self.messages.append(message)
            if not message.get("more_body"):
                break
        await PlainTextResponse("ok")(scope, receive, send)


def scope(headers: dict[str, str], method: str = "POST") -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": "/login",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "query_string": b"",
    }


async def call(app: Any, scope: dict[str, Any], pieces: list[bytes]) -> tuple[int, int]:
    """Send `pieces` as the body; the answer's status and how many pieces were read."""
    read = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        if read < len(pieces):
            read += 1
            return {
                "type": "http.request",
                "body": pieces[read - 1],
                "more_body": read < len(pieces),
            }
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], read


async def test_a_form_sent_in_tiny_pieces_reaches_the_app_in_one():
    recorder = Recorder()
    pieces = [b"a=" + b"x" * 14] * 65_536  # 1 MB, 16 bytes at a time
    status, _ = await call(FormBodies(recorder, plain), scope({}), pieces)
    assert status == 200
    [message] = (
        recorder.messages
    )  # asgi-csrf, behind it, adds bytes to bytes once, not 65,536 times
    assert len(message["body"]) == 16 * 65_536 and not message["more_body"]


async def test_a_declared_length_over_the_limit_is_refused_before_reading():
    recorder = Recorder()
    app = BodyLimit(recorder, limit=1000, answer=plain)
    status, read = await call(app, scope({"content-length": "1001"}), [b"x" * 1001])
    assert (status, read, recorder.messages) == (413, 0, [])


async def test_a_body_without_a_length_is_cut_off_where_it_crosses_the_limit():
    app = BodyLimit(Recorder(), limit=1000, answer=plain)
    status, read = await call(app, scope({}), [b"x" * 100] * 50)
    assert (status, read) == (413, 11)  # the 11th piece crossed 1,000 bytes


async def test_a_body_within_the_limit_goes_through_whole():
    recorder = Recorder()
    app = BodyLimit(recorder, limit=1000, answer=plain)
    status, read = await call(app, scope({"content-length": "1000"}), [b"x" * 500] * 2)
    assert (status, read) == (200, 2)
    assert b"".join(m["body"] for m in recorder.messages) == b"x" * 1000
