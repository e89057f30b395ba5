"""Call recordings: the same short tone for every call, served by the simulator itself."""

from __future__ import annotations

import math
import struct
import wave
from functools import cache
from io import BytesIO

from starlette.requests import Request
from starlette.responses import Response

from web.pbx_simulator.config import SimulatorConfig


def recordings_url(config: SimulatorConfig, request: Request) -> str:
    """The base URL the `link` of a call's history points under."""
    base = config.public_url or str(request.base_url)
    return base.rstrip("/") + "/records"


async def recording(request: Request) -> Response:
    """A call recording: the same short tone for every call."""
    return Response(tone_wav(), media_type="audio/wav")


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
