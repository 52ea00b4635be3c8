"""`make run`'s job: the shipped config/ai_backend.yaml, served by a real daemon process with the
real embedded engines and models, offline, driven by the official openai client."""

from __future__ import annotations

import base64
import io
import re
import subprocess
import sys
from collections.abc import Iterator

import httpx
import openai
import pytest
import soundfile as sf

from core.config import ConfigError, load_config_text, resolve_config
from core.plugins import create_plugin_catalog
from tests.support.daemon import Daemon
from tests.support.plugin_dist import REPO_ROOT

SHIPPED = REPO_ROOT / "config" / "ai_backend.yaml"


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def test_the_shipped_file_cut_short_is_refused() -> None:
    """An editor or a copy caught half-way leaves a prefix of the file that may still parse.
    Every prefix that ends before the routes are complete must be refused, so it can never
    replace a working configuration (the first 2,951 bytes used to load, without 5 engines)."""
    text = SHIPPED.read_text(encoding="utf-8")
    catalog = create_plugin_catalog()
    routes_end = text.index("\n\n", text.index("\nroutes:"))  # the routes block's last line
    cuts = sorted({2951, *(i + 1 for i, c in enumerate(text[:routes_end]) if c == "\n")})
    accepted = []
    for cut in cuts:
        try:
            resolve_config(load_config_text(text[:cut]), catalog)
        except ConfigError:
            continue
        accepted.append(cut)
    assert accepted == [], f"prefixes accepted: {accepted}"
    resolve_config(load_config_text(text), catalog)  # the whole file is fine


def test_shipped_config_checks_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "core.cli.main", "config", "check", str(SHIPPED)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for capability in ("stt", "tts", "llm", "embeddings", "rag", "vad"):
        assert capability in result.stdout


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    data = tmp_path_factory.mktemp("shipped-data")
    running = Daemon(SHIPPED, {"VOXGATE_DATA_DIR": str(data)}, log=data / "daemon.log")
    try:
        yield running
    finally:
        assert running.stop() == 0


@pytest.fixture(scope="module")
def client(daemon: Daemon) -> openai.OpenAI:
    return openai.OpenAI(base_url=daemon.url + "/v1", api_key="unused", max_retries=0)


def test_every_route_is_ready(daemon: Daemon) -> None:
    ready = httpx.get(daemon.url + "/readyz", timeout=60)
    assert ready.status_code == 200, ready.text


def test_speech_round_trips_through_transcription(client: openai.OpenAI) -> None:
    sentence = "The quick brown fox jumps over the lazy dog."
    speech = client.audio.speech.create(
        model="tts-1", voice="alloy", input=sentence, response_format="wav"
    )
    audio, rate = sf.read(io.BytesIO(speech.content))
    assert rate == 24000 and len(audio) > rate  # over a second of speech
    text = client.audio.transcriptions.create(
        model="whisper-1", file=("fox.wav", speech.content, "audio/wav")
    ).text
    assert words(text) == words(sentence)


def test_chat_streams_real_text(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=16,
        stream=True,
    )
    pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    assert len([p for p in pieces if p]) > 1
    assert "".join(pieces).strip()


def test_embeddings_are_384_dimensional(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model="text-embedding-3-small", input=["hello", "world"])
    assert [len(item.embedding) for item in result.data] == [384, 384]


def test_conversation_turn(daemon: Daemon, client: openai.OpenAI) -> None:
    question = client.audio.speech.create(
        model="tts-1", voice="alloy", input="What is the capital of France?", response_format="wav"
    ).content
    response = httpx.post(
        daemon.url + "/v1/conversation",
        files={"file": ("q.wav", question, "audio/wav")},
        data={"max_tokens": "32"},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert words(body["transcript"]["text"]) == words("What is the capital of France?")
    assert body["reply"]["text"]
    assert body["engines"] == {"stt": "whisper", "llm": "smollm2", "tts": "hibari"}
    audio, rate = sf.read(io.BytesIO(base64.b64decode(body["audio"]["data"])))
    assert rate == 24000 and len(audio) > 0
    assert all(value is not None for value in body["latency_ms"].values())


def openai_voice_names() -> list[str]:
    """The voice names the installed openai package knows (its speech parameter's Literal)."""
    import typing

    from openai.types.audio import speech_create_params

    names = [
        name
        for arg in typing.get_args(speech_create_params.Voice)
        if typing.get_origin(arg) is typing.Literal
        for name in typing.get_args(arg)
    ]
    assert {"alloy", "marin", "cedar"} <= set(names)
    return names


def test_every_openai_voice_name_speaks(client: openai.OpenAI) -> None:
    for voice in openai_voice_names():
        speech = client.audio.speech.with_raw_response.create(
            model="tts-1", voice=voice, input="Hi.", response_format="wav"
        )
        assert speech.headers["x-voxgate-voice"] == "heart", voice
        assert len(speech.content) > 1000, voice


def test_an_unknown_voice_is_an_invalid_voice_listing_the_voices(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.speech.create(model="tts-1", voice="nobody", input="Hi.")
    message = caught.value.message
    assert "invalid voice 'nobody'" in message
    assert "heart" in message and "marin" in message


def test_any_chat_model_name_is_served_but_embedding_names_must_exist(
    client: openai.OpenAI,
) -> None:
    # The shipped catch-all ("*": llm) serves chat model names the file does not list.
    reply = client.chat.completions.with_raw_response.create(
        model="gpt-5-some-future-name", messages=[{"role": "user", "content": "Hi"}], max_tokens=4
    )
    assert reply.headers["x-voxgate-engine"] == "smollm2"
    with pytest.raises(openai.NotFoundError) as caught:
        client.embeddings.create(model="text-embedding-9-huge", input="hello")
    assert caught.value.code == "model_not_found"
    assert "text-embedding-3-small" in caught.value.message and "minilm" in caught.value.message


async def test_realtime_model_names_open_sessions(daemon: Daemon) -> None:
    from tests.support.realtime import connect

    for model in ("gpt-realtime", "gpt-4o-mini-realtime-preview"):
        async with connect(daemon.url, model=model) as session:
            created = (await session.next("session.created"))["session"]
            assert created["model"] == model
            detection = created["audio"]["input"]["turn_detection"]
            assert detection["type"] == "semantic_vad" and detection["eagerness"] == "auto"
            await session.say("Say hello.")
            await session.send({"type": "response.create"})
            done = (await session.next("response.done", timeout=60))["response"]
            assert done["status"] == "completed"
            assert session.audio_of(done["id"])
