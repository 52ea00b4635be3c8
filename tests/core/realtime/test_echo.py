"""The echo guard on real speech: the reply's own audio coming back (delayed, quieter, noisy,
through G.711) resembles what was played; other speech does not, even in the same voice."""

from __future__ import annotations

import numpy as np
import pytest

from core.audio.chunk import AudioChunk
from core.audio.g711 import ulaw_decode, ulaw_encode
from core.config.schema import EchoGuardConfig
from core.realtime.echo import EchoGuard
from tests.support.speech import SENTENCES, at_rate, speech

RATE = 16_000
PLAYED_AT = 100.0  # wall-clock seconds at which the reply starts playing


def sixteen_k(text: str) -> np.ndarray:
    return at_rate(speech(text), RATE).samples


def guard(reply: np.ndarray) -> EchoGuard:
    echo_guard = EchoGuard(EchoGuardConfig(enabled=True))
    # Sent in 100 ms pieces, each played right after the one before.
    for start in range(0, len(reply), RATE // 10):
        echo_guard.played(reply[start : start + RATE // 10], PLAYED_AT + start / RATE)
    return echo_guard


def picked_up(reply: np.ndarray, delay: float, *, telephone: bool = False) -> np.ndarray:
    """What the microphone hears: the reply, ``delay`` later, half as loud, with noise."""
    shift = int(delay * RATE)
    heard = np.concatenate([np.zeros(shift, np.float32), reply])[: len(reply)] * 0.5
    heard += np.random.default_rng(1).standard_normal(len(heard)).astype(np.float32) * 0.003
    if telephone:
        narrow = at_rate(AudioChunk(heard.astype(np.float32), RATE), 8000).samples
        heard = ulaw_decode(ulaw_encode(narrow)).astype(np.float32) / 32768
        heard = at_rate(AudioChunk(heard, 8000), RATE).samples[: len(reply)]
    return heard.astype(np.float32)


@pytest.mark.parametrize(
    ("delay", "telephone"), [(0.0, False), (0.12, False), (0.45, False), (0.2, True)]
)
def test_the_replys_echo_is_recognized(delay: float, telephone: bool) -> None:
    reply = sixteen_k(SENTENCES[0])
    echo_guard = guard(reply)
    heard = picked_up(reply, delay, telephone=telephone)
    for at in (1.0, 1.8, 2.6):  # probes of 0.5 s ending there
        end = int(at * RATE)
        probe = heard[end - RATE // 2 : end]
        now = PLAYED_AT + at
        assert echo_guard.active(now)
        assert echo_guard.is_echo(probe, now), echo_guard.score(probe, now)


def test_other_speech_in_the_same_voice_is_not_echo() -> None:
    reply = sixteen_k(SENTENCES[0])
    echo_guard = guard(reply)
    for text in SENTENCES[1:]:
        user = sixteen_k(text) * 0.8
        for at in (1.0, 1.8, 2.6):
            end = int(at * RATE)
            probe = user[end - RATE // 2 : end]
            assert not echo_guard.is_echo(probe, PLAYED_AT + at), echo_guard.score(
                probe, PLAYED_AT + at
            )


def test_the_guard_is_on_only_around_the_replys_audio() -> None:
    reply = sixteen_k(SENTENCES[0])
    echo_guard = guard(reply)
    ends = PLAYED_AT + len(reply) / RATE
    config = echo_guard.config
    assert not echo_guard.active(PLAYED_AT - 0.5)
    assert echo_guard.active(ends + config.tail)
    assert not echo_guard.active(ends + config.tail + config.max_delay + 0.1)
    off = EchoGuard(EchoGuardConfig(enabled=False))
    off.played(reply, PLAYED_AT)
    assert not off.active(PLAYED_AT + 1)
