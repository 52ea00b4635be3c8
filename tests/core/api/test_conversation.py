"""The voice round trip's own logic: ordering, history, sentence streaming, errors.

Fake engines here (core logic); the real engines run the same endpoint in the engine tests.
"""

from __future__ import annotations

import base64
import io
import json
import struct

import httpx
import numpy as np
import pytest
import soundfile as sf

from core.api.app import create_app
from core.api.conversation_history import ConversationHistory
from core.engines.llm import ChatMessage
from tests.support import WriteConfig
from tests.support.daemon import http_gateway
from tests.support.fake_plugin import CALLS, SWITCHES
from tests.support.runtime import running_runtime

REPLY = "Sure, here is the first sentence. And this is the second one! Last words"
CONFIG = f"""\
conversation: {{max_history_messages: 4}}
engines:
  brain: {{capability: llm, engine: fake, settings: {{reply: "{REPLY}", switch: brain}}}}
  mouth: {{capability: tts, engine: fake, settings: {{voices: [heart, bella], chunks: 2}}}}
  ears: {{capability: stt, engine: fake, settings: {{reply: "what time is it"}}}}
routes: {{llm: [brain], tts: [mouth], stt: [ears]}}
voices: {{aliases: {{alloy: bella}}}}
"""


def wav_upload(seconds: float = 0.5, rate: int = 16000) -> dict[str, tuple[str, bytes, str]]:
    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    sf.write(buffer, (0.2 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), rate, format="WAV")
    return {"file": ("turn.wav", buffer.getvalue(), "audio/wav")}


async def test_turn_returns_every_part(write_config: WriteConfig) -> None:
    async with http_gateway(write_config(CONFIG)) as client:
        response = await client.post(
            "/v1/conversation", files=wav_upload(), data={"voice": "alloy"}
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "conversation.turn"
    assert body["transcript"]["text"] == "what time is it"
    assert body["reply"]["text"] == REPLY
    assert body["engines"] == {"stt": "ears", "llm": "brain", "tts": "mouth"}
    wav = base64.b64decode(body["audio"]["data"])
    audio, rate = sf.read(io.BytesIO(wav))
    assert rate == body["audio"]["sample_rate"] == 24000
    # The whole file is in the body, so its header states the real sizes, not "unknown".
    riff_size, data_size = struct.unpack("<I", wav[4:8])[0], struct.unpack("<I", wav[40:44])[0]
    assert (riff_size, data_size) == (len(wav) - 8, len(wav) - 44)
    assert body["audio"]["voice"] == "bella"
    # Three sentences, each spoken separately as soon as it was complete: 2 chunks of 0.1 s each.
    assert CALLS["mouth"] == 3
    assert len(audio) == pytest.approx(3 * 2 * 2400, abs=10)
    latency = body["latency_ms"]
    assert set(latency) == {
        "stt", "llm_first_token", "llm_total", "tts_first_audio", "tts_total", "end_to_end",
    }  # fmt: skip
    assert latency["stt"] <= latency["llm_first_token"] <= latency["llm_total"]
    assert latency["tts_first_audio"] <= latency["tts_total"] <= latency["end_to_end"]


async def test_history_is_kept_per_conversation_and_bounded(write_config: WriteConfig) -> None:
    async with http_gateway(write_config(CONFIG)) as client:

        async def prompt_size(conversation_id: str) -> int:
            response = await client.post(
                "/v1/conversation",
                files=wav_upload(),
                data={"conversation_id": conversation_id, "response_format": "none"},
            )
            assert response.status_code == 200, response.text
            assert response.json()["audio"] is None
            # The fake reports the number of messages it was given as prompt tokens.
            return int(response.json()["usage"]["prompt_tokens"])

        assert await prompt_size("a") == 2  # system + user
        assert await prompt_size("a") == 4  # + the first exchange
        assert await prompt_size("a") == 6  # + the second
        assert await prompt_size("a") == 6  # capped at 4 remembered messages
        assert await prompt_size("b") == 2  # another conversation starts empty


async def test_streamed_turn_sends_events_in_order(write_config: WriteConfig) -> None:
    async with (
        http_gateway(write_config(CONFIG)) as client,
        client.stream(
            "POST", "/v1/conversation", files=wav_upload(), data={"stream": "true"}
        ) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [
            json.loads(line[6:])
            async for line in response.aiter_lines()
            if line.startswith("data: ")
        ]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "conversation.transcript"
    assert kinds[-1] == "conversation.done"
    assert "conversation.reply.delta" in kinds and "conversation.audio.delta" in kinds
    assert kinds.index("conversation.reply.delta") < kinds.index("conversation.audio.delta")
    text = "".join(e["delta"] for e in events if e["type"] == "conversation.reply.delta")
    assert text.strip() == REPLY == events[-1]["reply"]["text"]
    audio = b"".join(
        base64.b64decode(e["audio"]) for e in events if e["type"] == "conversation.audio.delta"
    )
    assert sf.read(io.BytesIO(audio))[1] == 24000


async def test_failing_llm_is_a_clear_error_and_nothing_is_remembered(
    write_config: WriteConfig,
) -> None:
    SWITCHES["brain"] = "fail"
    async with http_gateway(write_config(CONFIG)) as client:
        response = await client.post(
            "/v1/conversation", files=wav_upload(), data={"conversation_id": "x"}
        )
        assert response.status_code == 503
        assert "brain" in response.json()["error"]["message"]
        SWITCHES["brain"] = "ok"
        ok = await client.post(
            "/v1/conversation", files=wav_upload(), data={"conversation_id": "x"}
        )
        assert ok.json()["usage"]["prompt_tokens"] == 2


@pytest.mark.parametrize(
    ("data", "files", "status", "param"),
    [
        ({"model": "x"}, None, 400, "file"),
        ({"response_format": "ogg"}, "wav", 400, "response_format"),
        ({"speed": "9"}, "wav", 400, "speed"),
        ({"conversation_id": "x" * 200}, "wav", 400, "conversation_id"),
        ({}, "junk", 415, "file"),
    ],
)
async def test_bad_turns_are_refused(
    write_config: WriteConfig, data: dict[str, str], files: str | None, status: int, param: str
) -> None:
    upload = {
        None: None,
        "wav": wav_upload(),
        "junk": {"file": ("x.wav", b"not audio" * 20, "audio/wav")},
    }[files]
    async with http_gateway(write_config(CONFIG)) as client:
        response = await client.post("/v1/conversation", data=data, files=upload)
    assert response.status_code == status, response.text
    assert response.json()["error"]["param"] == param


def test_history_forgets_idle_and_least_recent() -> None:
    now = [0.0]
    history = ConversationHistory(clock=lambda: now[0])
    turn = [ChatMessage("user", "hi"), ChatMessage("assistant", "hello")]
    for name in ("a", "b", "c"):
        history.append(name, turn, max_messages=10, max_conversations=2)
    assert history.messages("a", idle_ttl=60) == []  # evicted: only two are kept
    assert len(history.messages("c", idle_ttl=60)) == 2
    now[0] = 120.0
    assert history.messages("c", idle_ttl=60) == []


SPEECH_DIES = f"""\
engines:
  brain: {{capability: llm, engine: fake, settings: {{reply: "{REPLY}", delay: 0.05}}}}
  mouth: {{capability: tts, engine: fake, settings: {{switch: mouth}}}}
  ears: {{capability: stt, engine: fake, settings: {{reply: "what time is it"}}}}
routes: {{llm: [brain], tts: [mouth], stt: [ears]}}
"""


async def test_a_turn_whose_speech_fails_keeps_its_words_and_stops_the_llm(
    write_config: WriteConfig,
) -> None:
    SWITCHES["mouth"] = "fail"
    async with running_runtime(write_config(SPEECH_DIES)) as runtime:
        app = create_app(runtime, manage_runtime=False)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://voxgate.localhost") as c:
            response = await c.post(
                "/v1/conversation", files=wav_upload(), data={"conversation_id": "spoken"}
            )
            assert response.status_code == 503, response.text
            body = response.json()
            assert "mouth" in body["error"]["message"]
            turn = body["turn"]
            assert turn["complete"] is False
            assert turn["transcript"]["text"] == "what time is it"
            # The words written before speech failed come back; the rest was never generated.
            assert turn["reply"]["text"].startswith("Sure, here is the first sentence.")
            assert turn["reply"]["text"] != REPLY
            assert runtime.current.slots["brain"].active == 0
            # A turn nobody heard is not remembered.
            SWITCHES["mouth"] = "ok"
            ok = await c.post(
                "/v1/conversation", files=wav_upload(), data={"conversation_id": "spoken"}
            )
            assert ok.json()["usage"]["prompt_tokens"] == 2


async def test_conversation_ids_are_scoped_per_api_key(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOXGATE_API_KEYS", "key-one,key-two")
    async with http_gateway(write_config(CONFIG)) as client:

        async def prompt_size(key: str) -> int:
            response = await client.post(
                "/v1/conversation",
                files=wav_upload(),
                data={"conversation_id": "shared-id", "response_format": "none"},
                headers={"authorization": f"Bearer {key}"},
            )
            assert response.status_code == 200, response.text
            return int(response.json()["usage"]["prompt_tokens"])

        assert await prompt_size("key-one") == 2
        assert await prompt_size("key-one") == 4
        # The same id under another key is another conversation: nothing of key-one's leaks.
        assert await prompt_size("key-two") == 2
