"""The shipped Whisper model on recorded human speech (tests/data/speech/librivox): a reader
the daemon's own TTS never produced, so a broken window, resampler or decoder shows up as words
lost. The bound is loose (tiny.en makes about one error in ten words on these clips); what it
catches is a transcript that stops matching the speech, not a percent."""

from __future__ import annotations

import pytest

from plugins.stt_whisper.engine import FasterWhisperEngine
from tests.plugins.stt_whisper.support import transcribe
from tests.support.human_speech import SpokenClip, librivox_clips
from tests.support.speech import at_rate
from tests.support.wer import corpus_word_error_rate

#: Several times the error rate tiny.en has here, far below what a broken path produces.
MOST_WORD_ERRORS = 0.25


def corpus_error_rate(clips: list[SpokenClip], heard: list[str]) -> float:
    return corpus_word_error_rate([clip.text for clip in clips], heard)


@pytest.mark.parametrize(
    "options",
    [{}, {"vad_filter": False, "live": True}],
    ids=["uploaded (full window)", "live (short window)"],
)
async def test_recorded_speech_is_transcribed(
    whisper: FasterWhisperEngine, options: dict[str, object]
) -> None:
    clips = librivox_clips()
    heard = [(await transcribe(whisper, clip.audio, options=options)).text for clip in clips]
    assert corpus_error_rate(clips, heard) <= MOST_WORD_ERRORS, heard


async def test_speech_resampled_from_another_rate_keeps_its_words(
    whisper: FasterWhisperEngine,
) -> None:
    # The same clips as an 8 kHz telephone line and a 44.1 kHz recorder deliver them.
    clips = librivox_clips()
    for rate in (8000, 44100):
        heard = []
        for clip in clips:
            heard.append((await transcribe(whisper, at_rate(clip.audio, rate))).text)
        assert corpus_error_rate(clips, heard) <= MOST_WORD_ERRORS, (rate, heard)
