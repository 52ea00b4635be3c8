"""The faster_whisper engine on Whisper tiny.en, fed real speech from hibari-tts."""

from __future__ import annotations

import itertools
from pathlib import Path

import pydantic
import pytest

from core.audio.chunk import AudioChunk
from core.engines.errors import EngineUnavailable, InvalidRequest, Unsupported
from core.engines.stt import Segment, TranscriptionRequest
from plugins.stt_whisper.engine import FasterWhisperEngine
from plugins.stt_whisper.settings import WhisperSettings
from tests.plugins.stt_whisper.support import build, transcribe
from tests.support.speech import SENTENCES, at_rate, joined, quiet, speech
from tests.support.wer import word_error_rate

RATE = 16000
TEXT = " ".join(SENTENCES)


def spoken_text() -> AudioChunk:
    """All the sentences with short pauses, at the engine's rate."""
    parts: list[AudioChunk] = []
    for sentence in SENTENCES:
        parts += [speech(sentence), quiet(0.4, 24_000)]
    return at_rate(joined(*parts), RATE)


async def test_several_sentences_are_transcribed_accurately(whisper: FasterWhisperEngine) -> None:
    result = await transcribe(whisper, spoken_text())
    assert word_error_rate(TEXT, result.text) <= 0.1, result.text


async def test_segments_stream_in_order_and_carry_the_language(
    whisper: FasterWhisperEngine,
) -> None:
    audio = spoken_text()
    segments: list[Segment] = []
    async for segment in whisper.transcribe(TranscriptionRequest(audio=audio)):
        segments.append(segment)
    assert len(segments) >= 2, "speech with pauses should come back in several segments"
    assert [s.id for s in segments] == list(range(len(segments)))
    assert segments[0].language == "en"
    for earlier, later in itertools.pairwise(segments):
        assert earlier.start <= later.start
    for segment in segments:
        assert 0 <= segment.start < segment.end <= audio.duration + 0.05
        assert isinstance(segment.start, float) and isinstance(segment.end, float)
        assert segment.avg_logprob is not None and segment.no_speech_prob is not None


async def test_word_timestamps_are_monotonic_and_inside_the_audio(
    whisper: FasterWhisperEngine,
) -> None:
    audio = spoken_text()
    result = await transcribe(whisper, audio, word_timestamps=True)
    words = [w for s in result.segments for w in s.words]
    assert word_error_rate(TEXT, " ".join(w.word for w in words)) <= 0.1
    assert all(w.start <= w.end for w in words)
    assert all(a.end <= b.start + 1e-6 for a, b in itertools.pairwise(words))
    assert words[0].start >= 0 and words[-1].end <= audio.duration + 0.05
    for segment in result.segments:
        assert segment.start - 1e-6 <= segment.words[0].start
        assert segment.words[-1].end <= segment.end + 1e-6
    assert all(w.probability is not None and 0 <= w.probability <= 1 for w in words)


async def test_words_are_left_out_unless_asked_for(whisper: FasterWhisperEngine) -> None:
    result = await transcribe(whisper, at_rate(speech(SENTENCES[0]), RATE))
    assert all(not s.words for s in result.segments)


async def test_audio_at_another_rate_is_resampled_by_the_engine(
    whisper: FasterWhisperEngine,
) -> None:
    result = await transcribe(whisper, speech(SENTENCES[1]))  # 24 kHz, given as is
    assert word_error_rate(SENTENCES[1], result.text) <= 0.1, result.text


async def test_vad_filter_trims_silence_and_noise_but_keeps_times(
    whisper: FasterWhisperEngine, whisper_vad: FasterWhisperEngine
) -> None:
    sentence = at_rate(speech(SENTENCES[2]), RATE)
    lead = 3.0
    padded = joined(quiet(lead, RATE), sentence, quiet(2.0, RATE, noise=0.01), quiet(2.0, RATE))
    plain = await transcribe(whisper, sentence)
    trimmed = await transcribe(whisper_vad, padded)
    assert word_error_rate(SENTENCES[2], trimmed.text) <= 0.1, trimmed.text
    assert word_error_rate(plain.text, trimmed.text) <= 0.1
    # Times refer to the padded audio: speech begins after the lead-in and ends before the tail.
    assert lead - 0.4 <= trimmed.segments[0].start <= lead + 0.5
    assert trimmed.segments[-1].end <= lead + sentence.duration + 0.5


async def test_vad_filter_on_noise_alone_gives_no_text(whisper_vad: FasterWhisperEngine) -> None:
    result = await transcribe(whisper_vad, quiet(4.0, RATE, noise=0.01))
    assert result.segments == ()
    assert result.text == ""


async def test_a_request_may_turn_the_vad_filter_off(whisper_vad: FasterWhisperEngine) -> None:
    # Already-trimmed audio (a live session's utterance) skips the engine's own VAD.
    sentence = at_rate(speech(SENTENCES[3]), RATE)
    result = await transcribe(whisper_vad, sentence, options={"vad_filter": False})
    assert word_error_rate(SENTENCES[3], result.text) <= 0.1


async def test_translation_needs_a_multilingual_model(whisper: FasterWhisperEngine) -> None:
    with pytest.raises(Unsupported, match="English-only"):
        await transcribe(whisper, speech(SENTENCES[0]), task="translate")


@pytest.mark.parametrize("language", ["en", "EN", "en-US", "en_GB"])
async def test_english_in_any_spelling_is_accepted(
    whisper: FasterWhisperEngine, language: str
) -> None:
    result = await transcribe(whisper, at_rate(speech(SENTENCES[0]), RATE), language=language)
    assert result.language == "en"
    assert word_error_rate(SENTENCES[0], result.text) <= 0.1


async def test_other_languages_are_refused_by_an_english_only_model(
    whisper: FasterWhisperEngine,
) -> None:
    with pytest.raises(Unsupported, match="English only"):
        await transcribe(whisper, speech(SENTENCES[0]), language="fr")
    with pytest.raises(InvalidRequest) as caught:
        await transcribe(whisper, speech(SENTENCES[0]), language="klingon")
    assert caught.value.param == "language"


def test_info_names_model_and_placement(whisper: FasterWhisperEngine) -> None:
    info = whisper.info()
    assert info["model"] == "tiny.en"
    assert info["origin"] == "package"
    assert info["multilingual"] is False
    assert (info["device"], info["compute_type"]) == ("cpu", "int8")
    assert info["threads"] >= 1


def test_settings_refuse_unknown_keys_and_bad_values() -> None:
    with pytest.raises(pydantic.ValidationError):
        WhisperSettings.model_validate({"modle": "tiny.en"})
    with pytest.raises(pydantic.ValidationError):
        WhisperSettings.model_validate({"device": "tpu"})
    with pytest.raises(pydantic.ValidationError):
        WhisperSettings.model_validate({"beam_size": 0})
    settings = WhisperSettings.model_validate({"compute_type": "int8_float32", "threads": 3})
    assert settings.resolved_threads(available=16) == 3
    assert WhisperSettings().resolved_threads(available=2) == 2


async def test_an_unloaded_engine_says_so(tmp_path: Path) -> None:
    engine = build(FasterWhisperEngine, {}, tmp_path, "idle")
    assert not (await engine.health()).ok
    assert "folder" not in engine.info()
    with pytest.raises(EngineUnavailable, match="not loaded"):
        await transcribe(engine, speech(SENTENCES[0]))
