"""The official openai client against the gateway (fake engines: this tests API shapes)."""

from __future__ import annotations

import base64
import contextlib
import io

import httpx
import numpy as np
import openai
import pytest
import soundfile as sf

from tests.support import WriteConfig
from tests.support.daemon import openai_gateway
from tests.support.fake_plugin import SWITCHES

CONFIG = """\
mode: hybrid
engines:
  chat: {capability: llm, engine: fake, settings: {reply: "one two three", switch: chat}}
  chat_cloud: {capability: llm, engine: fake_cloud, settings: {reply: "from the cloud"}}
  speaker: {capability: tts, engine: fake, settings: {voices: [heart, bella], language: en-US}}
  listener: {capability: stt, engine: fake, settings: {reply: "hello world"}}
  embed: {capability: embeddings, engine: fake}
routes:
  llm: [chat, chat_cloud]
  tts: [speaker]
  stt: [listener]
  embeddings: [embed]
aliases:
  gpt-4o-mini: llm
  tts-1: tts
  whisper-1: stt
  text-embedding-3-small: embeddings
voices:
  aliases: {alloy: heart, nova: bella}
"""


def gateway(
    write_config: WriteConfig, **headers: str
) -> contextlib.AbstractAsyncContextManager[openai.AsyncOpenAI]:
    return openai_gateway(write_config(CONFIG), **headers)


def wav_bytes(seconds: float = 1.0, rate: int = 16000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    sf.write(buffer, (0.2 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), rate, format="WAV")
    return buffer.getvalue()


async def test_chat_completion(write_config: WriteConfig) -> None:
    async with gateway(write_config) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            temperature=0.2,
            max_tokens=20,
            stop=["x"],
            seed=1,
        )
        assert raw.headers["x-voxgate-engine"] == "chat"
        assert "x-voxgate-fallback" not in raw.headers
        completion = raw.parse()
        assert completion.choices[0].message.content == "one two three"
        assert completion.choices[0].finish_reason == "stop"
        assert completion.usage is not None and completion.usage.completion_tokens == 3


async def test_chat_streaming_with_usage(write_config: WriteConfig) -> None:
    async with gateway(write_config) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        pieces, usage, finish, roles = [], None, None, []
        async for chunk in stream:
            roles.extend(choice.delta.role for choice in chunk.choices if choice.delta.role)
            if chunk.usage:
                usage = chunk.usage
            for choice in chunk.choices:
                pieces.append(choice.delta.content or "")
                finish = choice.finish_reason or finish
        assert "".join(pieces) == "one two three"
        assert finish == "stop"
        assert usage is not None and usage.total_tokens == 4
        assert roles == ["assistant"]  # the opening chunk, sent together with the first text


async def test_fallback_is_visible_in_headers(write_config: WriteConfig) -> None:
    SWITCHES["chat"] = "fail"
    async with gateway(write_config) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
        assert raw.headers["x-voxgate-engine"] == "chat_cloud"
        assert raw.headers["x-voxgate-fallback"] == "chat=unavailable"
        assert raw.parse().choices[0].message.content == "from the cloud"


async def test_mid_stream_failure_reaches_the_client_as_an_error(write_config: WriteConfig) -> None:
    SWITCHES["chat"] = "crash_mid_stream"
    async with gateway(write_config) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        with pytest.raises(openai.APIError, match="mid-stream"):
            async for _ in stream:
                pass


async def test_embeddings_float_and_base64(write_config: WriteConfig) -> None:
    async with gateway(write_config) as client:
        result = await client.embeddings.create(model="text-embedding-3-small", input=["a", "bb"])
        assert [d.index for d in result.data] == [0, 1]
        assert result.data[1].embedding[0] == 2.0
        raw = await client.embeddings.with_raw_response.create(
            model="text-embedding-3-small", input="abc", encoding_format="base64"
        )
        payload = raw.http_response.json()["data"][0]["embedding"]
        decoded = np.frombuffer(base64.b64decode(payload), dtype="<f4")
        assert decoded[0] == 3.0
        # The SDK itself decodes base64 when it asked for it.
        sdk = await client.embeddings.create(model="text-embedding-3-small", input="abc")
        assert sdk.data[0].embedding[0] == 3.0


async def test_models_lists_routes_aliases_and_engines(write_config: WriteConfig) -> None:
    async with gateway(write_config) as client:
        models = {m.id: m for m in (await client.models.list()).data}
        assert {"llm", "tts", "gpt-4o-mini", "whisper-1", "chat", "chat_cloud"} <= set(models)
        extra = models["chat_cloud"].model_extra or {}
        assert extra["kind"] == "engine" and extra["location"] == "cloud"
        assert (await client.models.retrieve("whisper-1")).id == "whisper-1"
        with pytest.raises(openai.NotFoundError):
            await client.models.retrieve("nope")


async def test_speech_streams_wav_with_voice_aliases(write_config: WriteConfig) -> None:
    async with gateway(write_config) as client:
        async with client.audio.speech.with_streaming_response.create(
            model="tts-1", voice="alloy", input="Hello there.", response_format="wav"
        ) as response:
            assert response.headers["x-voxgate-voice"] == "heart"
            data = b"".join([chunk async for chunk in response.iter_bytes()])
        samples, rate = sf.read(io.BytesIO(data))
        assert rate == 24000 and len(samples) == 3 * 2400


async def test_speech_pcm_reports_its_rate(write_config: WriteConfig) -> None:
    async with gateway(write_config) as client:
        raw = await client.audio.speech.with_raw_response.create(
            model="tts-1", voice="nova", input="Hi.", response_format="pcm"
        )
        assert raw.headers["x-sample-rate"] == "24000"
        assert len(raw.http_response.content) == 3 * 2400 * 2


async def test_transcription_formats(write_config: WriteConfig) -> None:
    audio = wav_bytes(2.0)
    async with gateway(write_config) as client:
        result = await client.audio.transcriptions.create(
            model="whisper-1", file=("a.wav", audio, "audio/wav")
        )
        assert result.text == "hello world"
        verbose = await client.audio.transcriptions.create(
            model="whisper-1",
            file=("a.wav", audio),
            response_format="verbose_json",
            timestamp_granularities=["segment"],
        )
        assert verbose.language == "en"
        assert verbose.duration == pytest.approx(2.0, abs=0.01)
        assert [s.text for s in verbose.segments or []] == ["hello", "world"]
        srt = await client.audio.transcriptions.create(
            model="whisper-1", file=("a.wav", audio), response_format="srt"
        )
        assert "00:00:00,000 --> 00:00:01,000" in str(srt)
        vtt = await client.audio.transcriptions.create(
            model="whisper-1", file=("a.wav", audio), response_format="vtt"
        )
        assert str(vtt).startswith("WEBVTT")
        text = await client.audio.transcriptions.create(
            model="whisper-1", file=("a.wav", audio), response_format="text"
        )
        assert str(text).strip() == "hello world"
        translated = await client.audio.translations.create(
            model="whisper-1", file=("a.wav", audio)
        )
        assert translated.text == "hello world"


async def test_transcription_stream_events(write_config: WriteConfig) -> None:
    async with gateway(write_config) as client:
        stream = await client.audio.transcriptions.create(
            model="whisper-1", file=("a.wav", wav_bytes()), stream=True
        )
        events = [event async for event in stream]
        assert [e.type for e in events] == [
            "transcript.text.delta",
            "transcript.text.delta",
            "transcript.text.done",
        ]
        assert events[-1].text == "hello world"


async def test_voices_lists_engine_voices_and_aliases(write_config: WriteConfig) -> None:
    async with gateway(write_config) as client:
        response = await client.get("/voices", cast_to=httpx.Response)
        body = response.json()
        assert {v["id"] for v in body["data"]} == {"heart", "bella"}
        assert body["aliases"]["alloy"] == "heart"
