"""The pieces a sentence-by-sentence TTS engine speaks a request's text in."""

from __future__ import annotations

import pytest

from core.engines.errors import InvalidRequest
from core.engines.tts import SegmentedSpeechSettings, sentences_to_speak


def test_text_is_spoken_sentence_by_sentence() -> None:
    pieces = sentences_to_speak(
        "The kettle is on. Tea will be ready in five minutes.", SegmentedSpeechSettings()
    )
    assert pieces == ["The kettle is on.", "Tea will be ready in five minutes."]


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_a_text_with_nothing_to_speak_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidRequest, match="nothing to speak") as refused:
        sentences_to_speak(text, SegmentedSpeechSettings())
    assert refused.value.param == "input"
