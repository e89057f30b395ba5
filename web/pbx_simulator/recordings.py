"""Call recordings: the same short tone for every call, served by the simulator itself."""

from __future__ import annotations

import asyncio
import math
import struct
import wave
from functools import cache
from io import BytesIO

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from web.pbx_simulator.config import SimulatorConfig


def recordings_url(config: SimulatorConfig, request: Request) -> str:
    """The base URL the `link` of a call's history points under."""
    base = config.public_url or str(request.base_url)
    return base.rstrip("/") + "/records"


async def recording(request: Request) -> Response:
    """A call recording: the same short tone for every call.

    Tests ask for trouble in the link's query string (a plain link behaves as ever):
    `key=1` answers 401 unless `X-API-KEY` is the PBX's token; `size=N` pads the file to N
    bytes (an oversized one); `fail=interrupt` closes the connection halfway through the body,
    `fail=slow` pauses `delay` seconds (default 3) halfway, `fail=missing` answers 404 — each
    for the first `times` requests of that link (default 1; `times=0`: every request)."""
    query = request.query_params
    token: str = request.state.pbx.config.api_key  # the Pbx (pbx.py imports this module)
    if query.get("key") == "1" and request.headers.get("x-api-key") != token:
        return Response("unauthorized", status_code=401)
    body = tone_wav()
    size = query.get("size", "")
    if size.isdigit() and len(body) < int(size) <= 200_000_000:
        body += bytes(int(size) - len(body))
    fail = query.get("fail", "")
    if fail and _troubled(request, int(query.get("times") or 1)):
        if fail == "missing":
            return Response("not found", status_code=404)
        if fail == "interrupt":
            return _Halfway(body, pause=None)
        if fail == "slow":
            return _Halfway(body, pause=float(query.get("delay") or 3))
    return Response(body, media_type="audio/wav")


def _troubled(request: Request, times: int) -> bool:
    """Whether this request of the link is one of the first `times` (0: all of them)."""
    hits: dict[str, int] = getattr(request.app.state, "recording_hits", None) or {}
    request.app.state.recording_hits = hits
    key = str(request.url)
    hits[key] = hits.get(key, 0) + 1
    return times == 0 or hits[key] <= times


class _Halfway(Response):
    """The file's headers and first half; then the connection is closed (`pause` None) or the
    second half follows after `pause` seconds."""

    def __init__(self, body: bytes, pause: float | None) -> None:
        super().__init__(body, media_type="audio/wav")
        self.pause = pause

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        half = len(self.body) // 2
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body[:half], "more_body": True})
        if self.pause is None:
            return  # the server closes the connection of a response left unfinished
        await asyncio.sleep(self.pause)
        await send({"type": "http.response.body", "body": self.body[half:]})


@cache
def tone_wav() -> bytes:
    """1.5 s of a 440 Hz tone, 8 kHz mono 16-bit: small, valid, audible."""
    rate, seconds, volume = 8000, 1.5, 8000
    frames = b"".join(
        struct.pack("<h", int(volume * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(rate * seconds))
    )
    buffer = BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(frames)
    return buffer.getvalue()
