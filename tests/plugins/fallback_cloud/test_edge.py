"""edge-tts: voice choice, rate, MP3 decoding, and failing fast (and clearly) without internet."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from core.audio.chunk import AudioChunk
from core.audio.encode import encode_audio
from core.engines import EngineContext, EngineUnavailable, InvalidRequest, SpeechRequest
from core.engines.errors import Unsupported
from plugins.fallback_cloud.edge import EdgeTTSEngine, speaking_rate
from plugins.fallback_cloud.mp3_stream import Mp3Stream
from plugins.fallback_cloud.settings import EdgeSettings
from tests.plugins.fallback_cloud.support import NoServices

#: Name resolution of the reserved .invalid domain fails, online or not: the offline path.
UNRESOLVABLE_PROXY = "http://proxy.invalid:3128"


@contextlib.asynccontextmanager
async def edge(tmp_path: Path, **settings: Any) -> AsyncIterator[EdgeTTSEngine]:
    context = EngineContext("edge", tmp_path / "data", tmp_path / "models", NoServices())
    engine = EdgeTTSEngine(EdgeSettings.model_validate(settings), context)
    await engine.load()
    try:
        yield engine
    finally:
        await engine.close()


async def test_offline_synthesis_is_unavailable_at_once(tmp_path: Path) -> None:
    async with edge(tmp_path, proxy=UNRESOLVABLE_PROXY, fetch_voice_list=False) as engine:
        started = time.perf_counter()
        with pytest.raises(EngineUnavailable, match=r"cannot reach speech\.platform\.bing\.com"):
            [c async for c in engine.synthesize(SpeechRequest(text="Hello there."))]
        print(f"edge-tts offline failure after {1000 * (time.perf_counter() - started):.1f} ms")


async def test_slow_name_lookup_gives_up_at_the_resolve_timeout(tmp_path: Path) -> None:
    # Some offline resolvers only fail after seconds; the engine does not wait for them.
    async with edge(tmp_path, resolve_timeout=1e-6, fetch_voice_list=False) as engine:
        with pytest.raises(EngineUnavailable, match="took longer than 1e-06s"):
            [c async for c in engine.synthesize(SpeechRequest(text="Hello there."))]


async def test_offline_voice_list_is_the_built_in_one(tmp_path: Path) -> None:
    async with edge(tmp_path, proxy=UNRESOLVABLE_PROXY) as engine:
        assert engine._voice_fetch is not None
        await engine._voice_fetch  # the background fetch fails and keeps the built-in list
        voices = {v.id: v for v in await engine.voices()}
    aria = voices["en-US-AriaNeural"]
    assert (aria.language, aria.gender) == ("en-US", "female")
    assert voices["de-DE-ConradNeural"].gender == "male"


async def test_voice_choice(tmp_path: Path) -> None:
    async with edge(tmp_path, fetch_voice_list=False, voice="en-GB-RyanNeural") as engine:
        assert engine.voice_for(SpeechRequest(text="x")) == "en-GB-RyanNeural"
        assert engine.voice_for(SpeechRequest(text="x", language="en-US")) == "en-GB-RyanNeural"
        assert engine.voice_for(SpeechRequest(text="x", language="de")) == "de-DE-KatjaNeural"
        with pytest.raises(Unsupported, match="no voice for language 'tlh'"):
            engine.voice_for(SpeechRequest(text="x", language="tlh"))
        with pytest.raises(InvalidRequest) as caught:
            [c async for c in engine.synthesize(SpeechRequest(text="x", voice="heart"))]
        assert caught.value.param == "voice"


def test_rate_folds_in_the_request_speed() -> None:
    assert speaking_rate("+0%", 1.0) == "+0%"
    assert speaking_rate("+10%", 1.5) == "+60%"
    assert speaking_rate("-20%", 0.5) == "-70%"
    assert speaking_rate("+0%", 4.0) == "+200%"  # past this speech is unintelligible
    assert speaking_rate("-50%", 0.25) == "-90%"


def test_settings_reject_malformed_offsets() -> None:
    with pytest.raises(ValidationError):
        EdgeSettings(rate="10%")
    with pytest.raises(ValidationError):
        EdgeSettings(pitch="+5%")
    with pytest.raises(ValidationError):
        EdgeSettings(voice="Aria")


def test_mp3_stream_decodes_as_it_arrives() -> None:
    rate = 24_000
    t = np.arange(rate, dtype=np.float32) / rate
    source = AudioChunk((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate)
    mp3 = encode_audio(source, "mp3")
    decoder = Mp3Stream()
    chunks: list[AudioChunk] = []
    sizes = []
    for start in range(0, len(mp3), 700):  # network-sized pieces, cut anywhere
        got = decoder.feed(mp3[start : start + 700])
        sizes.append(len(got))
        chunks += got
    chunks += decoder.finish()
    assert sum(sizes[:3]) > 0  # audio comes out before the whole file has arrived
    audio = AudioChunk.concat(chunks)
    assert audio.sample_rate == rate
    assert abs(audio.duration - 1.0) < 0.1  # MP3 adds encoder padding only
    spectrum = np.abs(np.fft.rfft(audio.samples))
    peak = np.fft.rfftfreq(len(audio.samples), 1 / rate)[int(np.argmax(spectrum))]
    assert abs(peak - 440) < 5
