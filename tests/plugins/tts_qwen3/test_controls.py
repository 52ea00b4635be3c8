"""Request knobs mapped onto Qwen3-TTS: languages, speakers, emotion and speed as instructions."""

from __future__ import annotations

import pytest

from plugins.tts_qwen3 import controls
from plugins.tts_qwen3.models import MODELS

LANGUAGES = ["auto", "chinese", "english", "japanese"]


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        (None, "auto"),
        ("auto", "auto"),
        ("zh", "chinese"),
        ("zh-CN", "chinese"),
        ("en_US", "english"),
        ("Japanese", "japanese"),
        ("fr", None),
        ("klingon", None),
    ],
)
def test_languages(requested: str | None, expected: str | None) -> None:
    assert controls.model_language(requested, LANGUAGES) == expected


def test_known_speakers_carry_language_and_gender() -> None:
    voice = controls.describe_speaker("uncle_fu")
    assert (voice.id, voice.name, voice.language, voice.gender) == (
        "uncle_fu",
        "Uncle_Fu",
        "zh",
        "male",
    )
    unknown = controls.describe_speaker("Newcomer")
    assert (unknown.id, unknown.language, unknown.gender) == ("newcomer", None, None)


@pytest.mark.parametrize(
    ("emotion", "phrase"),
    [
        ("happy", "Speak in a happy tone."),
        ({"happiness": 0.8, "energy": 1.2}, "Speak with strong happiness, more energetic."),
        ({"sadness": 0.5, "energy": 0.8}, "Speak with sadness, calmer."),
        ({"anger": 0.2}, "Speak with a little anger."),
        ({"happiness": 0.0, "energy": 1.0}, None),
        (None, None),
    ],
)
def test_emotion_becomes_words(emotion: object, phrase: str | None) -> None:
    assert controls.emotion_phrase(emotion) == phrase


def test_bad_emotions_are_refused() -> None:
    with pytest.raises(ValueError, match="must be a number"):
        controls.emotion_phrase({"happiness": "lots"})
    with pytest.raises(ValueError, match="a word or an object"):
        controls.emotion_phrase(3)


@pytest.mark.parametrize(
    ("speed", "phrase"),
    [
        (1.0, None),
        (1.05, None),
        (1.3, "Speak a little faster than usual."),
        (2.0, "Speak very fast."),
        (0.8, "Speak a little slower than usual."),
        (0.5, "Speak very slowly."),
    ],
)
def test_speed_becomes_words(speed: float, phrase: str | None) -> None:
    assert controls.speed_phrase(speed) == phrase


def test_the_model_registry_matches_the_issue() -> None:
    keys = {spec.key: spec for spec in MODELS}
    assert keys["tokenizer_12hz"].hf_repo == "Qwen/Qwen3-TTS-Tokenizer-12Hz"
    assert keys["base_0_6b"].folder == "Qwen/Qwen3-TTS-12Hz-0.6B-Base"
    assert keys["custom_0_6b"].modelscope_id == "Qwen/Qwen3-TTS-12Hz-0.6B-CustomVoice"
    assert {"base_1_7b", "custom_1_7b", "design_1_7b"} <= set(keys)
    assert all(spec.dir_env == "QWEN_TTS_MODELS_DIR" for spec in MODELS)
