"""The voice store on disk and reference clip normalization."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile

from core.audio.chunk import AudioChunk
from core.cloned_voices.normalize import ReferenceAudioError, normalize_reference
from core.cloned_voices.store import INDEX, VoiceStore, VoiceStoreError, valid_id


def tone(seconds: float, rate: int = 24_000, level: float = 0.1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * 200 * t)).astype(np.float32)


def clip(seconds: float = 3.0, rate: int = 24_000) -> AudioChunk:
    return AudioChunk(tone(seconds, rate), rate)


def test_normalizing_trims_silence_resamples_and_levels() -> None:
    rate = 44_100
    quiet = tone(2.0, rate, level=0.005)
    samples = np.concatenate([np.zeros(rate), quiet, np.zeros(2 * rate)]).astype(np.float32)
    out = normalize_reference(AudioChunk(samples, rate))
    assert out.sample_rate == 24_000
    assert 2.0 <= out.duration <= 2.3  # the silences are gone, bar a little air
    rms = float(np.sqrt(np.mean(out.samples**2)))
    assert 0.08 < rms < 0.12  # -20 dBFS
    assert np.abs(out.samples).max() <= 0.95


def test_a_long_clip_is_cut_at_a_pause_before_the_limit() -> None:
    rate = 24_000
    speech = tone(9.0, rate)
    pause = np.zeros(int(0.3 * rate), dtype=np.float32)
    samples = np.concatenate([speech, pause, tone(20.0, rate)])  # the pause sits at 9.0-9.3 s
    out = normalize_reference(AudioChunk(samples, rate), max_seconds=10.0)
    assert 9.0 <= out.duration <= 9.3


@pytest.mark.parametrize(
    ("samples", "message"),
    [
        (np.zeros(48_000, dtype=np.float32), "silent"),
        (np.concatenate([np.zeros(24_000), tone(0.3)]).astype(np.float32), "at least 1 s"),
    ],
)
def test_unusable_references_are_refused(samples: np.ndarray, message: str) -> None:
    with pytest.raises(ReferenceAudioError, match=message):
        normalize_reference(AudioChunk(samples, 24_000))


def test_create_get_update_delete(tmp_path: Path) -> None:
    store = VoiceStore(tmp_path / "voices")
    voice = store.create(
        clip(), name=" Grandpa ", language="zh-CN", gender="male", reference_text="你好"
    )
    assert valid_id(voice.id)
    assert (voice.name, voice.language, voice.duration) == ("Grandpa", "zh-CN", 3.0)
    assert store.get(voice.id) == voice
    audio, rate = soundfile.read(str(store.audio_path(voice)), dtype="float32")
    assert rate == 24_000 and len(audio) == 72_000

    reference = store.reference(voice.id)
    assert reference is not None and reference.text == "你好"
    assert reference.audio.sample_rate == 24_000

    updated = store.update(voice.id, {"name": "Grandfather", "reference_text": None})
    assert updated is not None
    assert (updated.name, updated.reference_text, updated.language) == (
        "Grandfather",
        None,
        "zh-CN",
    )
    assert updated.updated_at >= voice.updated_at

    assert store.delete(voice.id)
    assert store.get(voice.id) is None
    assert not (tmp_path / "voices" / voice.id).exists()
    assert not store.delete(voice.id)


def test_delete_can_keep_the_files(tmp_path: Path) -> None:
    store = VoiceStore(tmp_path)
    voice = store.create(clip(), name="a")
    store.delete(voice.id, remove_files=False)
    assert store.get(voice.id) is None
    assert store.audio_path(voice).exists()


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "a", "gender": "robot"}, "gender"),
        ({"name": "a", "language": "../../etc"}, "language"),
        ({"name": "a", "description": "d" * 1001}, "description"),
        ({"name": "a", "reference_text": "r" * 2001}, "reference_text"),
    ],
)
def test_bad_fields_are_refused_by_name(tmp_path: Path, fields: dict[str, str], param: str) -> None:
    with pytest.raises(VoiceStoreError) as caught:
        VoiceStore(tmp_path).create(clip(), **fields)  # type: ignore[arg-type]
    assert caught.value.param == param
    assert not any(tmp_path.glob("voice_*"))


def test_only_editable_fields_change(tmp_path: Path) -> None:
    store = VoiceStore(tmp_path)
    voice = store.create(clip(), name="a")
    with pytest.raises(VoiceStoreError, match="cannot change id") as caught:
        store.update(voice.id, {"id": "voice_0000000000000000"})
    assert caught.value.param == "id"


@pytest.mark.parametrize(
    "bad", ["../index.json", "voice_../../x", "VOICE_0123456789ABCDEF", "", "."]
)
def test_ids_that_are_not_store_ids_find_nothing(tmp_path: Path, bad: str) -> None:
    store = VoiceStore(tmp_path)
    store.create(clip(), name="a")
    assert store.get(bad) is None
    assert store.update(bad, {"name": "b"}) is None
    assert store.delete(bad) is False
    assert (tmp_path / INDEX).exists()


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    stores = [VoiceStore(tmp_path) for _ in range(4)]  # separate objects, like separate requests
    errors: list[BaseException] = []

    def add(store: VoiceStore) -> None:
        try:
            for index in range(5):
                store.create(clip(1.5), name=f"v{index}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(VoiceStore(tmp_path).list()) == 20
    assert not list(tmp_path.glob(".*.tmp"))


def test_the_store_refuses_new_voices_when_full(tmp_path: Path) -> None:
    store = VoiceStore(tmp_path, max_voices=1)
    store.create(clip(), name="a")
    with pytest.raises(VoiceStoreError, match="full"):
        store.create(clip(), name="b")


def test_a_damaged_index_is_reported(tmp_path: Path) -> None:
    store = VoiceStore(tmp_path)
    store.create(clip(), name="a")
    (tmp_path / INDEX).write_text("{not json", encoding="utf-8")
    with pytest.raises(VoiceStoreError, match="damaged"):
        store.list()
    (tmp_path / INDEX).write_text(
        json.dumps({"voices": {"../evil": {"id": "x"}}}), encoding="utf-8"
    )
    assert store.list() == []


def test_an_entry_that_is_not_a_voice_leaves_the_others_usable(tmp_path: Path) -> None:
    store = VoiceStore(tmp_path)
    kept = store.create(clip(), name="a")
    index = json.loads((tmp_path / INDEX).read_text(encoding="utf-8"))
    index["voices"]["voice_0123456789abcdef"] = {"name": "edited by hand"}
    (tmp_path / INDEX).write_text(json.dumps(index), encoding="utf-8")
    assert store.list() == [kept]
    assert store.get("voice_0123456789abcdef") is None
    assert store.update("voice_0123456789abcdef", {"name": "b"}) is None
    assert store.get(kept.id) == kept
