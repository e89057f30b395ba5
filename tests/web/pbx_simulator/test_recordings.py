"""The recordings the simulator serves for its calls."""

from __future__ import annotations

import io
import wave

import httpx


def test_the_recording_is_a_short_wav(pbx: httpx.Client) -> None:
    response = pbx.get("/records/59a8ce80-541d-4340-b123-3035bb9469ff.wav")
    assert response.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(response.content)) as wav:
        assert (wav.getnchannels(), wav.getframerate()) == (1, 8000)
        assert 1 <= wav.getnframes() / wav.getframerate() <= 2
