"""Sentence audio without its long silent edges, sound passed on as soon as it comes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np

from core.audio.chunk import AudioChunk
from core.realtime.voice import trim_edges

RATE = 24_000


def part(seconds: float, loud: bool) -> AudioChunk:
    count = int(seconds * RATE)
    samples = np.full(count, 0.3 if loud else 0.001, dtype=np.float32)
    return AudioChunk(samples, RATE)


async def stream(*chunks: AudioChunk) -> AsyncIterator[AudioChunk]:
    for chunk in chunks:
        yield chunk


async def trimmed(*chunks: AudioChunk) -> list[np.ndarray]:
    return [c.samples async for c in trim_edges(stream(*chunks))]


async def test_long_silence_at_the_edges_is_cut_to_a_little() -> None:
    quiet_head = np.concatenate([part(0.3, False).samples, part(0.5, True).samples])
    quiet_tail = np.concatenate([part(0.5, True).samples, part(0.5, False).samples])
    out = await trimmed(AudioChunk(quiet_head, RATE), AudioChunk(quiet_tail, RATE))
    total = np.concatenate(out)
    assert len(total) == int(0.03 * RATE) + RATE + int(0.15 * RATE)
    assert np.all(np.abs(total[int(0.03 * RATE) : int(0.03 * RATE) + RATE]) > 0.2)


async def test_silence_inside_is_kept_and_quiet_chunks_before_sound_are_dropped() -> None:
    out = await trimmed(part(0.2, False), part(0.2, True), part(0.4, False), part(0.2, True))
    total = np.concatenate(out)
    assert len(total) == int(0.03 * RATE) * 0 + int(0.8 * RATE)
    # A stream with no sound at all gives nothing.
    assert await trimmed(part(0.3, False)) == []
