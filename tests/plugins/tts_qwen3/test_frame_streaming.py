"""Audio streamed while Qwen3-TTS generates, with the real worker and tiny checkpoints.

Chunks come every few codec frames, and joined they are the audio the library's own one-shot
decode gives for the same codes (the decoder is causal; enough left context makes it exact).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from core.engines.tts import ReferenceVoice, SpeechRequest
from plugins.tts_qwen3.engine import Qwen3Engine
from tests.plugins.tts_qwen3.test_engine import (
    SAMPLES_PER_FRAME,
    assert_audio,
    speak,
    speech_like_clip,
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(1800)]

FIRST, EVERY = 3, 10
TEXT = "The quick brown fox jumps over the lazy dog near the river bank."


@pytest.fixture(scope="module")
def engine_settings() -> dict[str, Any]:
    return {
        "max_new_tokens": 40,
        "first_stream_frames": FIRST,
        "stream_frames": EVERY,
        "stream_context_frames": 25,
    }


async def from_worker(
    engine: Qwen3Engine, request: SpeechRequest, **stream: int
) -> list[np.ndarray]:
    """The worker's chunks for ``request`` with another streaming plan (``every=0``: whole)."""
    assert engine._supervisor is not None
    params, payload = await engine._plan(request)
    params["stream"] = stream
    return [
        np.frombuffer(message.payload, dtype="<f4")
        async for message in engine._supervisor.stream("synthesize", params, payload)
    ]


def frames(chunk: np.ndarray) -> int:
    assert len(chunk) % SAMPLES_PER_FRAME == 0
    return len(chunk) // SAMPLES_PER_FRAME


async def test_chunks_start_small_and_double_up_to_the_limit(engine: Qwen3Engine) -> None:
    chunks = await speak(engine, TEXT, voice="ryan", options={"seed": 3})
    assert_audio(chunks)
    sizes = [frames(chunk.samples) for chunk in chunks]
    assert len(sizes) >= 4, sizes  # 40 frames at most: 3, 6, 10, 10, ...
    expected = [min(FIRST * 2**i, EVERY) for i in range(len(sizes))]
    assert sizes[:-1] == expected[:-1]
    assert 1 <= sizes[-1] <= expected[-1]


async def test_joined_chunks_equal_the_one_shot_decode(engine: Qwen3Engine) -> None:
    request = SpeechRequest(text=TEXT, voice="vivian", options={"seed": 11})
    [whole] = await from_worker(engine, request, every=0)
    streamed = await from_worker(engine, request, first=2, every=4, context=80)
    assert len(streamed) > 2
    joined = np.concatenate(streamed)
    assert len(joined) == len(whole)
    np.testing.assert_allclose(joined, whole, atol=1e-5)


async def test_short_context_keeps_every_sample_and_stays_close(engine: Qwen3Engine) -> None:
    request = SpeechRequest(text=TEXT, voice="vivian", options={"seed": 11})
    [whole] = await from_worker(engine, request, every=0)
    joined = np.concatenate(await from_worker(engine, request, first=2, every=4, context=1))
    assert len(joined) == len(whole)
    assert np.isfinite(joined).all()
    assert float(np.sqrt(np.mean((joined - whole) ** 2))) < 0.5 * float(np.sqrt(np.mean(whole**2)))


async def test_a_cloned_voice_continues_from_its_reference_codes(engine: Qwen3Engine) -> None:
    reference = ReferenceVoice(
        id="ref-frames", audio=speech_like_clip(), text="A sentence read for the reference."
    )
    request = SpeechRequest(text=TEXT, reference=reference, options={"seed": 5})
    [whole] = await from_worker(engine, request, every=0)
    streamed = await from_worker(engine, request, first=2, every=4, context=80)
    assert len(streamed) > 1
    np.testing.assert_allclose(np.concatenate(streamed), whole, atol=1e-5)


async def test_leaving_early_ends_the_generation_and_frees_the_worker(
    engine: Qwen3Engine,
) -> None:
    stream = engine.synthesize(SpeechRequest(text=TEXT, voice="ryan", options={"seed": 3}))
    first = await anext(stream)
    assert frames(first.samples) == FIRST
    await stream.aclose()
    again: list[Any] = await speak(engine, "Hello there.", voice="ryan")
    assert_audio(again)
