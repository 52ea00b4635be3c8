"""When a pause ends the user's turn: a fixed silence, or one that depends on what was said."""

from __future__ import annotations

import pytest

from core.config.schema import SemanticVadSettings, ServerVadSettings
from core.realtime.turn_policy import longest_pause_ms, looks_finished, required_pause_ms


@pytest.mark.parametrize(
    "text",
    [
        "What is the capital of France?",
        "Thank you.",
        "I would like a pizza!",
        "What are you looking for?",
        "Can you tell me about it?",
    ],
)
def test_finished_sentences(text: str) -> None:
    assert looks_finished(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "I went to the",
        "I was thinking, and",
        "So I said...",
        "Well, um.",
        "I need to go to.",
        "and then,",
        "Tell me about the…",
    ],
)
def test_unfinished_sentences(text: str) -> None:
    assert not looks_finished(text)


def test_server_vad_waits_its_silence_whatever_was_said() -> None:
    detection = ServerVadSettings(silence_duration_ms=650)
    assert required_pause_ms(detection, None) == 650
    assert required_pause_ms(detection, "and") == 650
    assert longest_pause_ms(detection) == 650


def test_semantic_vad_waits_by_eagerness_and_sense() -> None:
    high = SemanticVadSettings(eagerness="high")
    low = SemanticVadSettings(eagerness="low")
    auto = SemanticVadSettings()
    finished, trailing = "Where is the station?", "Where is the"
    assert required_pause_ms(high, finished) < required_pause_ms(auto, finished)
    assert required_pause_ms(auto, finished) < required_pause_ms(low, finished)
    for detection in (high, auto, low):
        assert required_pause_ms(detection, finished) < required_pause_ms(detection, trailing)
        assert required_pause_ms(detection, trailing) == longest_pause_ms(detection)
        # Not knowing what was said yet: wait (at most the longest pause).
        assert required_pause_ms(detection, None) is None
