"""Scripts, segments, voice file names and casting: the parts of a request before the model."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.engines.errors import InvalidRequest
from core.engines.tts import SpeechRequest
from plugins.tts_vibevoice.casting import cast
from plugins.tts_vibevoice.script import Turn, pack_sentences, parse_turns, speaker_count
from plugins.tts_vibevoice.voice_files import find, parse_name, scan


def test_plain_text_is_one_turn_of_the_first_speaker() -> None:
    assert parse_turns("  Hello there.\nHow are you?  ") == [Turn(0, "Hello there.\nHow are you?")]


def test_a_script_numbers_speakers_in_order_of_their_numbers() -> None:
    script = (
        "Speaker 2: Welcome back.\n"
        "Speaker 1: Thanks!\n"
        "  It is good to be here.\n"
        "\n"
        "speaker 2： 很高兴见到你。\n"
        "Speaker 1: ...\n"
    )
    turns = parse_turns(script)
    # Speaker 1 is the lowest number, so it takes the first voice; the bare "..." is dropped.
    assert turns == [
        Turn(1, "Welcome back."),
        Turn(0, "Thanks! It is good to be here."),
        Turn(1, "很高兴见到你。"),
    ]
    assert speaker_count(turns) == 2


def test_speaker_zero_based_scripts_work_too() -> None:
    turns = parse_turns("Speaker 0: One.\nSpeaker 1: Two.\nSpeaker 0: Three.")
    assert [t.speaker for t in turns] == [0, 1, 0]


def test_text_mentioning_a_speaker_later_is_not_a_script() -> None:
    text = "Our guest today.\nSpeaker 1: is how the transcript labels her."
    assert parse_turns(text) == [Turn(0, text)]


def test_sentences_are_packed_up_to_the_limit_never_cut_inside() -> None:
    text = (
        "The first sentence is short. The second one is a little longer than that. "
        "Third. And the fourth sentence closes the paragraph nicely."
    )
    pieces = pack_sentences(text, 76)
    assert pieces == [
        "The first sentence is short. The second one is a little longer than that.",
        "Third. And the fourth sentence closes the paragraph nicely.",
    ]
    assert all(len(p) <= 76 for p in pieces)
    assert " ".join(pieces) == text


def test_a_sentence_longer_than_the_limit_is_cut_at_a_clause() -> None:
    text = "This sentence rambles on, and on, and on, well past any sensible limit for one piece."
    pieces = pack_sentences(text, 40)
    assert len(pieces) > 1 and all(len(p) <= 40 for p in pieces)
    assert " ".join(pieces) == text


def test_chinese_sentences_pack_without_spaces() -> None:
    text = "今天天气很好。我们去公园散步吧！你觉得怎么样？"
    assert pack_sentences(text, 16) == ["今天天气很好。我们去公园散步吧！", "你觉得怎么样？"]


@pytest.mark.parametrize(
    ("name", "language", "speaker", "gender"),
    [
        ("zh-Xinran_woman.wav", "zh", "Xinran", "female"),
        ("en-Frank_man.mp3", "en", "Frank", "male"),
        ("in-Samuel_man.flac", "in", "Samuel", "male"),
        ("Narrator.wav", None, "Narrator", None),
        ("en-Mary-Ann_female.wav", "en", "Mary-Ann", "female"),
        ("Old_Tom.wav", None, "Old_Tom", None),
        ("deep-voice_m.wav", None, "deep-voice", "male"),
    ],
)
def test_voice_file_names_give_language_and_gender(
    name: str, language: str | None, speaker: str, gender: str | None
) -> None:
    voice = parse_name(Path(name))
    assert (voice.id, voice.name, voice.language, voice.gender) == (
        Path(name).stem,
        speaker,
        language,
        gender,
    )
    assert voice.describe().kind == "file"


def test_scan_and_find(tmp_path: Path) -> None:
    for name in ("en-Alice_woman.wav", "en-Bob_man.FLAC", ".hidden.wav", "readme.txt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "folder.wav").mkdir()
    voices = scan(tmp_path)
    assert [v.id for v in voices] == ["en-Alice_woman", "en-Bob_man"]
    assert find(voices, "en-Alice_woman") is voices[0]
    assert find(voices, "EN-BOB_MAN") is voices[1]
    assert find(voices, "alice") is voices[0]
    assert find(voices, "carol") is None


def _request(voice: str | None = None, **options: object) -> SpeechRequest:
    return SpeechRequest(text="x", voice=voice, options=dict(options))


def test_casting_takes_named_voices_in_order_then_fills_from_the_pool() -> None:
    pool = ["alice", "frank", "xinran"]
    assert cast(_request(speakers=["frank", "alice"]), 2, pool).voices == ["frank", "alice"]
    assert cast(_request(speakers="frank , xinran"), 2, pool).voices == ["frank", "xinran"]
    # The second speaker takes the first pool voice not already cast.
    assert cast(_request(voice="alice"), 2, pool).voices == ["alice", "frank"]
    assert cast(_request(voice="xinran,alice"), 2, pool).voices == ["xinran", "alice"]
    assert cast(_request(), 1, pool).voices == ["alice"]
    # More voices than speakers: the extra ones are not needed.
    assert cast(_request(speakers=["a", "b", "c"]), 1, pool).voices == ["a"]
    # Nothing anywhere: the model speaks in a voice of its own.
    assert cast(_request(), 2, []).voices == [None, None]


def test_casting_refuses_too_few_voices_and_bad_fields() -> None:
    with pytest.raises(InvalidRequest) as short:
        cast(_request(speakers=["alice"]), 3, ["alice", "frank"])
    assert short.value.param == "speakers" and "3 speakers" in short.value.message
    for bad in ([1, 2], {"a": 1}, " , "):
        with pytest.raises(InvalidRequest) as wrong:
            cast(_request(speakers=bad), 1, [])
        assert wrong.value.param == "speakers"
