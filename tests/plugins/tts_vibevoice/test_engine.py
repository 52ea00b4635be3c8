"""The vibevoice engine on a tiny random-weight checkpoint: loading, voices, single- and
multi-speaker synthesis, segmentation, streaming, the speaker cache, and its clear refusals.

The model's output is noise, so the checks are about what is certain: rate, shape, finiteness,
one chunk per segment with the pause before it, 3,200 samples per audio frame, the same output
for the same seed and voices, and different output when a speaker's voice changes.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import cast

import numpy as np
import pytest
import soundfile

from core.audio.chunk import AudioChunk
from core.cloned_voices.store import VoiceStore
from core.engines.errors import EngineUnavailable, InvalidRequest, Unsupported
from core.engines.tts import SpeechRequest
from core.model_store.registry import ModelRegistry
from plugins import tts_vibevoice
from plugins.tts_vibevoice import model_folder
from plugins.tts_vibevoice.engine import VibeVoiceEngine
from plugins.tts_vibevoice.script import pack_sentences
from tests.plugins.tts_vibevoice.support import VOICE_FILES, loaded, tiny_settings
from tests.support.tiny_vibevoice import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    TinyCheckpoint,
    speech_like,
    write_voice,
)

# diffusers' scheduler hands numpy a torch tensor the way numpy 2 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

PAUSE = SAMPLE_RATE * 100 // 1000  # pause_ms: 100 in tiny_settings
TEXT = (
    "Hello there, this is the first sentence. A second sentence follows it. And a third one closes."
)


@pytest.fixture(scope="module")
def engine(
    tiny: TinyCheckpoint,
    voices_dir: Path,
    models_root: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[VibeVoiceEngine]:
    data = tmp_path_factory.mktemp("vibevoice-data")
    with loaded(tiny_settings(tiny, voices_dir), models_root, data) as engine:
        yield engine


def speak(engine: VibeVoiceEngine, text: str = TEXT, **fields: object) -> list[AudioChunk]:
    async def run() -> list[AudioChunk]:
        request = SpeechRequest(text=text, **fields)  # type: ignore[arg-type]
        return [chunk async for chunk in engine.synthesize(request)]

    return asyncio.run(run())


def frames(chunk: AudioChunk, *, paused: bool) -> int:
    """Audio frames in a chunk, after checking its shape and its leading pause."""
    samples = chunk.samples
    assert chunk.sample_rate == SAMPLE_RATE
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert np.isfinite(samples).all() and np.abs(samples).max() <= 1.0
    if paused:
        assert not samples[:PAUSE].any(), "a later segment starts with the pause"
        samples = samples[PAUSE:]
    assert len(samples) % FRAME_SAMPLES == 0
    assert float(np.sqrt(np.mean(samples**2))) > 0.01, "the model's part is not silence"
    return len(samples) // FRAME_SAMPLES


def assert_segments(chunks: list[AudioChunk], count: int) -> None:
    assert len(chunks) == count
    for index, chunk in enumerate(chunks):
        # min_new_tokens 2 and max_new_tokens 3 in tiny_settings.
        assert frames(chunk, paused=index > 0) in (2, 3)


# -- plugin and model ------------------------------------------------------------------------


def test_the_plugin_registers_the_engine_and_its_models() -> None:
    assert tts_vibevoice.voxgate_tts_engines() == {"vibevoice": VibeVoiceEngine}
    registry = ModelRegistry(tts_vibevoice.voxgate_models())
    assert registry.problems == []
    assert {"vibevoice_1_5b", "vibevoice_7b", "vibevoice_realtime_0_5b"} <= {
        spec.key for spec in registry.all()
    }
    assert registry.get("vibevoice_1_5b").hf_repo == "vibevoice/VibeVoice-1.5B-hf"
    assert registry.get("vibevoice_realtime_0_5b").folder == "microsoft/VibeVoice-Realtime-0.5B"


def test_keys_hub_names_and_folders_find_the_model(tiny: TinyCheckpoint, models_root: Path) -> None:
    for value in (
        "vibevoice_1_5b",
        "vibevoice/VibeVoice-1.5B-hf",
        "microsoft/VibeVoice-1.5B",
        str(tiny.folder),
    ):
        assert model_folder.resolve(value, models_root) == tiny.folder


def test_a_missing_model_names_the_folder_and_the_download(
    tiny: TinyCheckpoint, voices_dir: Path, tmp_path: Path
) -> None:
    with (
        pytest.raises(EngineUnavailable) as missing,
        loaded(tiny_settings(tiny, voices_dir), tmp_path / "models", tmp_path / "data"),
    ):
        pass
    message = missing.value.message
    assert str(tmp_path / "models" / "vibevoice" / "VibeVoice-1.5B-hf") in message
    assert "voxgate models download vibevoice_1_5b" in message

    with pytest.raises(EngineUnavailable, match="no VibeVoice model at"):
        model_folder.resolve(str(tmp_path / "nowhere"), tmp_path)


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"model_type": "vibevoice", "decoder_config": {}}, "research code"),
        ({"model_type": "vibevoice_streaming"}, "VibeVoice-Realtime"),
        ({"model_type": "qwen2"}, "not a VibeVoice model"),
    ],
)
def test_folders_transformers_cannot_load_are_refused_with_the_reason(
    tmp_path: Path, config: dict[str, object], says: str
) -> None:
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(EngineUnavailable, match=says):
        model_folder.resolve(str(tmp_path), tmp_path)


def test_load_facts(engine: VibeVoiceEngine) -> None:
    info = engine.info()
    assert (info["device"], info["dtype"], info["sample_rate"]) == ("cpu", "float32", SAMPLE_RATE)
    assert asyncio.run(engine.health()).ok


# -- voices ----------------------------------------------------------------------------------


def test_voices_come_from_the_directory_and_the_voice_store(engine: VibeVoiceEngine) -> None:
    store = VoiceStore.for_data_dir(engine.context.data_dir)
    stored = store.create(
        AudioChunk(speech_like(2.0, SAMPLE_RATE, 180.0), SAMPLE_RATE), name="Clone", language="en"
    )
    voices = {v.id: v for v in asyncio.run(engine.voices())}
    assert set(voices) == {Path(name).stem for name in VOICE_FILES} | {stored.id}
    alice = voices["en-Alice_woman"]
    assert (alice.name, alice.language, alice.gender, alice.kind) == (
        "Alice",
        "en",
        "female",
        "file",
    )
    assert (voices["zh-Xinran_woman"].language, voices["en-Frank_man"].gender) == ("zh", "male")
    assert voices[stored.id].kind == "cloned"
    assert engine.default_voice() == "en-Alice_woman"  # the directory's first file

    assert_segments(speak(engine, "A stored voice speaks.", voice=stored.id), 1)


def test_unknown_and_unusable_voices_are_the_clients_problem(
    engine: VibeVoiceEngine, tiny: TinyCheckpoint, models_root: Path, tmp_path: Path
) -> None:
    with pytest.raises(InvalidRequest) as unknown:
        speak(engine, voice="nobody")
    assert (unknown.value.param, unknown.value.status) == ("voice", 400)
    with pytest.raises(InvalidRequest) as unknown_speaker:
        speak(
            engine,
            "Speaker 1: Hi.\nSpeaker 2: Hello.",
            options={"speakers": ["en-Alice_woman", "voice_0123456789abcdef"]},
        )
    assert unknown_speaker.value.param == "speakers"

    voices = tmp_path / "voices"
    voices.mkdir()
    soundfile.write(voices / "en-Quiet_man.wav", np.zeros(48_000, dtype=np.float32), 24_000)
    (voices / "en-Broken_woman.wav").write_bytes(b"RIFF0000WAVEnot really")
    with loaded(tiny_settings(tiny, voices), models_root, tmp_path / "data") as other:
        with pytest.raises(InvalidRequest, match="silent"):
            speak(other, voice="en-Quiet_man")
        with pytest.raises(InvalidRequest, match="en-Broken_woman"):
            speak(other, voice="en-Broken_woman")


# -- synthesis -------------------------------------------------------------------------------


def test_a_single_voice_speaks_each_segment_in_order(engine: VibeVoiceEngine) -> None:
    chunks = speak(engine, voice="en-Frank_man")
    assert_segments(chunks, len(pack_sentences(TEXT, 40)))
    assert len(pack_sentences(TEXT, 40)) == 3


def test_the_same_seed_gives_the_same_audio(engine: VibeVoiceEngine) -> None:
    first = speak(engine, voice="en-Alice_woman", options={"seed": 7})
    again = speak(engine, voice="en-Alice_woman", options={"seed": 7})
    other = speak(engine, voice="en-Alice_woman", options={"seed": 8})
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0].samples, other[0].samples)


def test_a_script_gives_each_speaker_their_own_voice(engine: VibeVoiceEngine) -> None:
    script = "Speaker 1: Hi Frank, welcome to the show.\nSpeaker 2: Thanks Alice, glad to be here."
    cast = {"seed": 3, "speakers": ["en-Alice_woman", "en-Frank_man"]}
    two = speak(engine, script, options=cast)
    assert_segments(two, 2)
    same = speak(engine, script, options={**cast, "speakers": ["en-Alice_woman", "en-Alice_woman"]})
    # Speaker 1 is Alice both times; only Speaker 2's voice changed.
    assert np.array_equal(two[0].samples, same[0].samples)
    assert not np.array_equal(two[1].samples, same[1].samples)
    # "a,b" in voice does the same (test_daemon checks it through the voice chooser too).
    joined = speak(engine, script, voice="en-Alice_woman,en-Frank_man", options={"seed": 3})
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(two, joined, strict=True))


def test_a_script_with_too_few_voices_is_refused(engine: VibeVoiceEngine) -> None:
    script = "\n".join(f"Speaker {n}: Line {n}." for n in range(1, 7))
    with pytest.raises(InvalidRequest) as short:
        speak(engine, script)
    assert short.value.param == "speakers" and "6 speakers" in short.value.message


def test_request_options_are_checked(engine: VibeVoiceEngine) -> None:
    for option, value in (("cfg_scale", 3.0), ("diffusion_steps", 0), ("seed", "x")):
        with pytest.raises(InvalidRequest) as bad:
            speak(engine, options={option: value})
        assert bad.value.param == option
    # In range they are used: a different guidance gives different audio for the same seed.
    base = speak(engine, "Guidance.", options={"seed": 1, "cfg_scale": 1.0})
    strong = speak(engine, "Guidance.", options={"seed": 1, "cfg_scale": 1.8})
    assert not np.array_equal(base[0].samples, strong[0].samples)


def test_speed_and_instructions_are_refused_or_ignored(
    engine: VibeVoiceEngine,
    tiny: TinyCheckpoint,
    voices_dir: Path,
    models_root: Path,
    tmp_path: Path,
) -> None:
    with pytest.raises(Unsupported, match="speed"):
        speak(engine, speed=1.5)
    with pytest.raises(Unsupported, match="instructions"):
        speak(engine, instructions="whisper")
    settings = tiny_settings(tiny, voices_dir, strict_controls=False)
    with loaded(settings, models_root, tmp_path) as lenient:
        assert_segments(speak(lenient, "Fast, please.", speed=1.5), 1)


def test_whole_text_mode_generates_the_script_in_one_pass(
    tiny: TinyCheckpoint, voices_dir: Path, models_root: Path, tmp_path: Path
) -> None:
    settings = tiny_settings(tiny, voices_dir, segment_chars=0, max_new_tokens=4)
    with loaded(settings, models_root, tmp_path) as whole:
        chunks = speak(
            whole,
            "Speaker 1: Hello there.\nSpeaker 2: Hi!\nSpeaker 1: How are you today?",
            options={"speakers": ["en-Alice_woman", "zh-Xinran_woman"]},
        )
        assert len(chunks) == 1
        assert frames(chunks[0], paused=False) in (2, 3, 4)
        assert whole.info()["speaker_cache"]["clips"] == 2


def test_the_frame_budget_follows_the_segment_length(
    tiny: TinyCheckpoint, voices_dir: Path, models_root: Path, tmp_path: Path
) -> None:
    settings = tiny_settings(
        tiny,
        voices_dir,
        max_new_tokens=None,
        max_frames_per_char=0.5,
        suppress_tokens=tiny.never_stop(),
        segment_chars=80,
    )
    short, long = "Short one.", "This sentence is exactly sixty characters long, give or take"
    assert len(long) == 60
    with loaded(settings, models_root, tmp_path) as engine:
        (few,) = speak(engine, short)
        (more,) = speak(engine, long)
    assert frames(few, paused=False) == 24  # the floor
    assert frames(more, paused=False) == 30  # 0.5 per character


def test_a_random_model_left_alone_ends_without_audio(
    tiny: TinyCheckpoint, voices_dir: Path, models_root: Path, tmp_path: Path
) -> None:
    settings = tiny_settings(tiny, voices_dir, suppress_tokens=[], min_new_tokens=None)
    with (
        loaded(settings, models_root, tmp_path) as silent,
        pytest.raises(EngineUnavailable, match="without audio"),
    ):
        speak(silent, "Nothing comes out.")


# -- streaming -------------------------------------------------------------------------------


def test_segments_stream_before_the_rest_is_synthesized(
    tiny: TinyCheckpoint, voices_dir: Path, models_root: Path, tmp_path: Path
) -> None:
    text = " ".join(f"Sentence number {n} is here." for n in range(6))
    assert len(pack_sentences(text, 40)) == 6
    settings = tiny_settings(tiny, voices_dir, lookahead_segments=1)
    with loaded(settings, models_root, tmp_path) as engine:

        async def first_then_leave() -> tuple[AudioChunk, int]:
            stream = cast(
                AsyncGenerator[AudioChunk, None], engine.synthesize(SpeechRequest(text=text))
            )
            first = await anext(stream)
            await stream.aclose()
            return first, engine.info()["segments_synthesized"]

        first, made = asyncio.run(first_then_leave())
        assert frames(first, paused=False) in (2, 3)
        # The client took one segment and left: at most one more was made (the lookahead).
        assert 1 <= made <= 2

        async def all_of_it() -> list[tuple[int, int]]:
            seen = []
            async for chunk in engine.synthesize(SpeechRequest(text=text)):
                seen.append((len(chunk.samples), engine.info()["segments_synthesized"]))
            return seen

        before = engine.info()["segments_synthesized"]
        seen = asyncio.run(all_of_it())
        assert len(seen) == 6
        # Each segment reached the client while at most one later one was done.
        for index, (_, made_so_far) in enumerate(seen):
            assert made_so_far - before <= index + 2


# -- speaker cache ---------------------------------------------------------------------------


def test_the_speaker_cache_is_a_bounded_lru_that_notices_edits(
    tiny: TinyCheckpoint, voices_dir: Path, models_root: Path, tmp_path: Path
) -> None:
    voices = tmp_path / "voices"
    shutil.copytree(voices_dir, voices)
    settings = tiny_settings(tiny, voices, speaker_cache_size=2)
    with loaded(settings, models_root, tmp_path / "data") as engine:

        def stats() -> tuple[int, int, int]:
            cache = engine.info()["speaker_cache"]
            return cache["clips"], cache["hits"], cache["misses"]

        for voice in ("en-Alice_woman", "en-Frank_man", "en-Alice_woman"):
            speak(engine, "One.", voice=voice)
        assert stats() == (2, 1, 2)
        speak(engine, "One.", voice="Narrator")  # evicts Frank, the least recently used
        speak(engine, "One.", voice="en-Frank_man")
        assert stats() == (2, 1, 4)
        write_voice(voices / "en-Frank_man.mp3", pitch=300.0, seconds=3.0)
        speak(engine, "One.", voice="en-Frank_man")  # the edited file is prepared again
        assert stats() == (2, 1, 5)


def test_preloading_prepares_the_voices_directory_at_load(
    tiny: TinyCheckpoint, voices_dir: Path, models_root: Path, tmp_path: Path
) -> None:
    settings = tiny_settings(tiny, voices_dir, preload_voices=True)
    with loaded(settings, models_root, tmp_path) as engine:
        cache = engine.info()["speaker_cache"]
        assert (cache["clips"], cache["misses"]) == (len(VOICE_FILES), len(VOICE_FILES))
        speak(engine, "Ready.", voice="zh-Xinran_woman")
        assert engine.info()["speaker_cache"]["hits"] == 1


def test_close_releases_the_model_and_load_brings_it_back(
    tiny: TinyCheckpoint, voices_dir: Path, models_root: Path, tmp_path: Path
) -> None:
    with loaded(tiny_settings(tiny, voices_dir), models_root, tmp_path) as engine:
        speak(engine, "Before.")
        asyncio.run(engine.close())
        assert not asyncio.run(engine.health()).ok
        assert engine.info()["loaded"] is False
        with pytest.raises(EngineUnavailable, match="not loaded"):
            speak(engine, "While closed.")
        asyncio.run(engine.load())
        assert_segments(speak(engine, "After."), 1)
