"""Limits, auth and input pace, on a daemon with fake STT/LLM/TTS engines (these tests are about
the gateway's own rules) and the real Silero detector."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from tests.support.configs import daemon_config, engine_entry
from tests.support.daemon import Daemon, serving
from tests.support.plugin_dist import fake_plugin_env
from tests.support.realtime import PCM_RATE, Session, connect, pcm16, silence
from tests.support.speech import SENTENCES, speech

KEY = "realtime-test-key"
PCM_BPS = PCM_RATE * 2


def limits_config(*, output_lead: float | None = None, tts_chunks: int = 3) -> str:
    """Fake STT/LLM/TTS engines, the real Silero detector and tight realtime limits; with
    ``output_lead`` set, replies are paced in real time."""
    engines = {
        "ears": engine_entry("stt", "fake", {"reply": "hello there"}),
        "brain": engine_entry("llm", "fake", {"reply": "Hello. How are you today?"}),
        "mouth": engine_entry("tts", "fake", {"chunks": tts_chunks}),
        "silero": engine_entry("vad", "silero"),
    }
    turns = {"type": "server_vad", "silence_duration_ms": 400}
    limits = {
        "max_sessions": 2,
        "idle_timeout": 3,
        "max_session": 5,
        "max_event_bytes": 4096,
        "max_buffer": 5,
    }
    realtime = {
        "profiles": {"default": {"output_lead": output_lead, "turn_detection": turns}},
        "limits": limits,
    }
    sections = {"mode": "local", "server": {"drain_timeout": 1}, "realtime": realtime}
    return daemon_config(engines, log_level="info", log_format="json", sections=sections)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("realtime-limits")
    env = {**fake_plugin_env(folder), "VOXGATE_API_KEYS": KEY}
    with serving(folder, limits_config(), env=env) as url:
        yield url


async def test_bearer_auth_and_the_browser_subprotocol(daemon: str) -> None:
    ws_url = daemon.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime"
    for headers in ({}, {"Authorization": "Bearer wrong-key"}):
        # Refused with the HTTP API's answer: 401 and why, not a bare 403.
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(ws_url, additional_headers=headers):
                pass
        assert refused.value.response.status_code == 401
        error = json.loads(refused.value.response.body or b"")["error"]
        assert error["code"] == "invalid_api_key"
    async with connect(daemon, key=KEY) as session:
        await session.next("session.created")
    async with websockets.connect(
        ws_url, subprotocols=["realtime", f"openai-insecure-api-key.{KEY}"]
    ) as ws:
        assert ws.subprotocol == "realtime"
        assert json.loads(await ws.recv())["type"] == "session.created"


async def test_sessions_beyond_the_limit_are_refused(daemon: str) -> None:
    async with connect(daemon, key=KEY) as one, connect(daemon, key=KEY) as two:
        await one.next("session.created")
        await two.next("session.created")
        ws_url = daemon.replace("http://", "ws://") + "/v1/realtime"
        async with websockets.connect(
            ws_url, additional_headers={"Authorization": f"Bearer {KEY}"}
        ) as third:
            refusal = json.loads(await third.recv())
            assert refusal["type"] == "error"
            assert refusal["error"]["code"] == "busy"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await third.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013


async def closing_error(session: Session) -> dict[str, Any]:
    error = await session.next("error", timeout=15)
    await asyncio.wait_for(session.closed.wait(), 10)
    return error


async def test_idle_and_overlong_sessions_end(daemon: str) -> None:
    async with connect(daemon, key=KEY) as session:
        await session.next("session.created")
        assert (await closing_error(session))["error"]["code"] == "session_idle"
    async with connect(daemon, key=KEY) as session:
        await session.next("session.created")

        async def keep_talking() -> None:
            while True:
                await session.send({"type": "input_audio_buffer.clear"})
                await asyncio.sleep(0.5)

        talker = asyncio.create_task(keep_talking())
        try:
            assert (await closing_error(session))["error"]["code"] == "session_expired"
        finally:
            talker.cancel()


async def test_oversized_events_and_a_full_buffer(daemon: str) -> None:
    async with connect(daemon, key=KEY) as session:
        await session.next("session.created")
        await session.send(
            {"type": "input_audio_buffer.append", "event_id": "big", "audio": "A" * 6000}
        )
        assert (await session.next("error"))["error"]["code"] == "event_too_large"
        await session.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
            }
        )
        await session.next("session.updated")
        hum = silence(5, PCM_BPS, b"\x01")  # 5 s just fit (in appends within the event limit)
        for offset in range(0, len(hum), 2400):
            await session.append(hum[offset : offset + 2400])
        await session.send(
            {"type": "input_audio_buffer.append", "event_id": "over", "audio": "AAAA" * 800}
        )
        full = (await session.next("error"))["error"]
        assert full["code"] == "input_audio_buffer_full" and full["event_id"] == "over"
        await session.send({"type": "input_audio_buffer.commit"})
        await session.next("input_audio_buffer.committed")


async def test_audio_faster_than_real_time_is_timed_by_its_own_clock(daemon: str) -> None:
    """A client may stream recorded audio as fast as it can: turns are found where they are in
    the audio, and each append is analysed before the next is read (no unbounded buffering)."""
    gap = silence(1.0, PCM_BPS)
    clips = [pcm16(speech(text)) for text in SENTENCES[:3]]
    audio = b"".join(clip + gap for clip in clips)
    async with connect(daemon, key=KEY) as session:
        await session.next("session.created")
        step = PCM_BPS // 20  # 50 ms: within the event size limit
        for offset in range(0, len(audio), step):
            await session.append(audio[offset : offset + step])
        for _ in range(3):
            await session.next("response.done", timeout=30)
        starts = [e["audio_start_ms"] for e in session.of("input_audio_buffer.speech_started")]
        stops = [e["audio_end_ms"] for e in session.of("input_audio_buffer.speech_stopped")]
    assert len(starts) == len(stops) == 3
    position = 0
    for clip, start, stop in zip(clips, starts, stops, strict=True):
        length = len(clip) * 1000 // PCM_BPS
        # Within the clip (its quiet edges and the prefix padding aside) ...
        assert position - 50 <= start <= position + 600, (start, position)
        # ... and ended by the 400 ms of silence after it.
        assert position + length - 800 <= stop <= position + length + 600, (stop, position)
        position += length + 1000


async def test_unknown_realtime_models_get_the_default_profile(daemon: str) -> None:
    async with connect(daemon, model="some-future-model", key=KEY) as session:
        created = (await session.next("session.created"))["session"]
    assert created["model"] == "some-future-model"
    assert created["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 400


async def test_a_stopping_daemon_lets_the_reply_end_then_says_goodbye(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    folder = tmp_path_factory.mktemp("realtime-stop")
    config = folder / "ai_backend.yaml"
    # Replies sent in real time (about two seconds of audio), so the stop comes in the middle.
    config.write_text(limits_config(output_lead=0, tts_chunks=10), encoding="utf-8")
    env = {
        **fake_plugin_env(folder),
        "VOXGATE_DATA_DIR": str(folder / "data"),
        "VOXGATE_API_KEYS": KEY,
    }
    daemon = Daemon(config, env)
    try:
        async with connect(daemon.url, key=KEY) as session:
            await session.next("session.created")
            await session.say("hi")
            await session.send({"type": "response.create"})
            await session.next("response.output_audio.delta")
            stopped = asyncio.create_task(asyncio.to_thread(daemon.stop))
            done = await session.next("response.done", timeout=20)
            assert done["response"]["status"] == "completed"
            goodbye = await session.next("error", timeout=20)
            assert goodbye["error"]["code"] == "server_restarting"
            await asyncio.wait_for(session.closed.wait(), 20)
            assert await stopped == 0
    finally:
        daemon.kill()


async def open_realtime_sessions(daemon: str) -> float:
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(daemon + "/metrics")).text
    return float(metrics.split("\nvoxgate_realtime_sessions ", 1)[1].split()[0])


async def test_a_client_that_sends_without_reading_is_cut_off(daemon: str) -> None:
    """Each retrieve answers with the whole item; a client that stops reading the answers while
    it keeps asking would have the daemon keep every one. Past a bound the session ends instead."""
    count = 12_000  # their answers come to far more than the bound and the sockets' buffers
    ws_url = daemon.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime"
    headers = {"Authorization": f"Bearer {KEY}"}
    text = [{"type": "input_text", "text": "x" * 3500}]
    item: dict[str, Any] = {"id": "big", "type": "message", "role": "user", "content": text}
    retrieve = json.dumps({"type": "conversation.item.retrieve", "item_id": "big"})
    # A small receive buffer, so the answers wait in the daemon, not in this machine's kernel.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.connect(("127.0.0.1", int(daemon.rsplit(":", 1)[1])))
    connecting = websockets.connect(ws_url, additional_headers=headers, compression=None, sock=sock)
    async with connecting as ws:
        assert json.loads(await ws.recv())["type"] == "session.created"
        await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
        ws.transport.pause_reading()
        for _ in range(count):
            await ws.send(retrieve)
        # Not reading until the daemon has ended the session.
        async with asyncio.timeout(60):
            while await open_realtime_sessions(daemon) > 0:
                await asyncio.sleep(0.1)
        ws.transport.resume_reading()
        answers = 0
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                event = json.loads(await asyncio.wait_for(ws.recv(), 30))
                answers += event["type"] == "conversation.item.retrieved"
    assert answers < count
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert closed.value.rcvd.reason == "client is not reading events"
