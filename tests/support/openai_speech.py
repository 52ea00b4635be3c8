"""Speech streamed through the official ``openai`` client, read as a client of the daemon would."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import numpy as np
import openai


@dataclass(frozen=True)
class StreamedSpeech:
    headers: httpx.Headers
    #: The whole body: 16-bit little-endian mono PCM.
    pcm: bytes

    @property
    def samples(self) -> np.ndarray:
        return np.frombuffer(self.pcm, dtype="<i2")


def stream_pcm(api: openai.OpenAI, *, model: str, voice: str, text: str) -> StreamedSpeech:
    """Speech asked for as raw PCM and read block by block as it arrives."""
    received = bytearray()
    with api.audio.speech.with_streaming_response.create(
        model=model, voice=voice, input=text, response_format="pcm"
    ) as response:
        for block in response.iter_bytes():
            received += block
    return StreamedSpeech(response.headers, bytes(received))
