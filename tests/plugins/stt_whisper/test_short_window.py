"""Short clips decoded against a shorter window: same words as the full window, less encoding,
and a result that looks wrong decoded again with the full window."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
from faster_whisper.feature_extractor import FeatureExtractor

from core.audio.chunk import AudioChunk
from plugins.stt_whisper.engine import FasterWhisperEngine
from plugins.stt_whisper.short_window import (
    WindowedWhisperModel,
    looks_wrong,
    padded_for_window,
    without_padding,
)
from tests.plugins.stt_whisper.support import loaded, transcribe
from tests.support.speech import at_rate, joined, quiet, speech
from tests.support.wer import word_error_rate

RATE = 16000
#: Short spoken requests, several a single word or two (where a short window is most fragile).
REQUESTS = (
    "What is the capital of France?",
    "Okay.",
    "Stop.",
    "Yes please.",
    "Turn off the kitchen lights.",
    "Can you tell me a joke about cats?",
    "How far is the moon from the earth?",
    "What time is it?",
)


@dataclass
class Segmentish:
    text: str
    compression_ratio: float = 1.2
    avg_logprob: float = -0.2
    no_speech_prob: float = 0.01


def test_silence_has_no_zero_feature_columns_so_only_padding_is_cut() -> None:
    extractor = FeatureExtractor()
    silent = extractor(np.zeros(RATE * 2, dtype=np.float32))
    assert np.all(np.any(silent != 0, axis=0))
    padded = np.zeros((silent.shape[0], 3000), dtype=np.float32)
    padded[:, : silent.shape[1]] = silent
    kept = without_padding(padded[None])
    assert kept.shape[-1] in (silent.shape[1], silent.shape[1] + 1)
    assert kept.shape[-1] % 2 == 0


def test_a_clip_gets_silence_up_to_its_window_and_long_ones_the_full_window() -> None:
    three = np.ones(3 * RATE, dtype=np.float32)
    padded = padded_for_window(three, 10.0)
    assert padded is not None and len(padded) == 10 * RATE
    assert np.all(padded[3 * RATE :] == 0)
    nine = padded_for_window(np.ones(9 * RATE, dtype=np.float32), 10.0)
    assert nine is not None and len(nine) == 10 * RATE  # a second of silence after the speech
    twenty = padded_for_window(np.ones(20 * RATE, dtype=np.float32), 10.0)
    assert twenty is not None and len(twenty) == 21 * RATE
    assert padded_for_window(np.ones(29 * RATE + 1, dtype=np.float32), 10.0) is None
    assert padded_for_window(three, 30.0) is None


@pytest.mark.parametrize(
    ("segments", "reason"),
    [
        ([Segmentish("What time is it? What time is it?")], "repeated_sentence"),
        ([Segmentish("Stop."), Segmentish("stop.")], "repeated_sentence"),
        ([Segmentish("Okay " * 40, compression_ratio=6.0)], "compression_ratio"),
        ([Segmentish("mumble", avg_logprob=-1.6)], "avg_logprob"),
        ([Segmentish("What time is it? It is late.")], None),
        ([Segmentish("", avg_logprob=-1.6, no_speech_prob=0.9)], None),  # silence, rightly empty
    ],
)
def test_results_that_look_wrong_are_named(segments: list[Segmentish], reason: str | None) -> None:
    assert looks_wrong(segments, no_speech_threshold=0.6) == reason


@pytest.fixture(scope="module")
def full_window(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FasterWhisperEngine]:
    root = tmp_path_factory.mktemp("whisper-full")
    with loaded(FasterWhisperEngine, {"short_window": "off"}, root, "whisper_full") as engine:
        yield engine


@pytest.fixture(scope="module")
def short_window(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FasterWhisperEngine]:
    root = tmp_path_factory.mktemp("whisper-short")
    with loaded(FasterWhisperEngine, {"short_window": "all"}, root, "whisper_short") as engine:
        yield engine


def count_encoded_frames(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    frames: list[int] = []
    encode = WindowedWhisperModel.encode

    def counting(self: WindowedWhisperModel, features: np.ndarray) -> object:
        result = encode(self, features)
        frames.append(int(without_padding(features).shape[-1]) if self.trim_padding else 3000)
        return result

    monkeypatch.setattr(WindowedWhisperModel, "encode", counting)
    return frames


def request_audio(text: str, noise: float) -> AudioChunk:
    clip = joined(quiet(0.2, 24_000), speech(text), quiet(0.2, 24_000))
    samples = at_rate(clip, RATE).samples.copy()
    if noise:
        samples += np.random.default_rng(len(text)).standard_normal(len(samples)).astype(
            np.float32
        ) * np.float32(noise)
    return AudioChunk(samples, RATE)


async def test_short_requests_read_as_with_the_full_window(
    short_window: FasterWhisperEngine,
    full_window: FasterWhisperEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frames = count_encoded_frames(monkeypatch)
    short_errors: list[float] = []
    full_errors: list[float] = []
    for noise in (0.0, 0.02):
        for text in REQUESTS:
            audio = request_audio(text, noise)
            heard = (await transcribe(short_window, audio)).text
            short_errors.append(word_error_rate(text, heard))
            full_errors.append(word_error_rate(text, (await transcribe(full_window, audio)).text))
    assert np.mean(short_errors) <= np.mean(full_errors) + 0.02, (short_errors, full_errors)
    # most requests were encoded as a 10 s window (1,000 frames), not 30 s
    assert sum(f == 1000 for f in frames) >= len(REQUESTS)


async def test_only_live_requests_get_the_short_window_by_default(
    whisper: FasterWhisperEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = count_encoded_frames(monkeypatch)
    audio = request_audio("What is the capital of France?", 0.0)
    uploaded = await transcribe(whisper, audio)
    assert frames == [3000]
    live = await transcribe(whisper, audio, options={"vad_filter": False, "live": True})
    assert frames[1:] == [1000]
    assert live.text == uploaded.text


async def test_times_stay_inside_the_clip(short_window: FasterWhisperEngine) -> None:
    audio = request_audio("Please remember to bring a warm jacket and some water.", 0.0)
    result = await transcribe(short_window, audio, word_timestamps=True)
    assert result.segments
    for segment in result.segments:
        assert 0 <= segment.start < segment.end <= audio.duration + 1e-6
        for word in segment.words:
            assert word.end <= audio.duration + 1e-6


def test_the_engine_settings_bound_the_window() -> None:
    from plugins.stt_whisper.settings import WhisperSettings

    assert WhisperSettings().window_seconds == 10.0
    assert WhisperSettings().short_window == "live"
    with pytest.raises(ValueError, match="window_seconds"):
        WhisperSettings(window_seconds=2)
