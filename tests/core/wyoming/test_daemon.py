"""The Wyoming listener of a real daemon, driven by the ``wyoming`` package's own client: Whisper
tiny.en transcribes and hibari speaks, through the same router as HTTP."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator

import httpx
import pytest
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk as WyomingChunk
from wyoming.audio import AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event, async_read_event
from wyoming.info import Describe, Info
from wyoming.ping import Ping
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from tests.core.wyoming.support import (
    WyomingDaemon,
    audio_of,
    command_events,
    pcm16,
    raw_connection,
    read_until,
    synthesize,
    transcribe,
    write_all,
    wyoming_daemon,
)
from tests.support.speech import SENTENCES, quiet, speech
from tests.support.wer import word_error_rate

CONFIG = """\
mode: local
reload: {watch: false}
logging: {level: info, format: json}
engines:
  whisper: {capability: stt, engine: faster_whisper, preload: true}
  hibari: {capability: tts, engine: hibari, preload: true, settings: {seed: 1}}
routes: {stt: [whisper], tts: [hibari]}
"""
WYOMING = (
    "max_connections: 4, idle_timeout: 3, max_audio_seconds: 20, "
    "allowed_clients: [127.0.0.1/32, '::1'], zeroconf: true, zeroconf_name: voxgate-test-{port}"
)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WyomingDaemon]:
    with wyoming_daemon(tmp_path_factory.mktemp("wyoming"), CONFIG, WYOMING) as daemon:
        yield daemon


def metric(running: WyomingDaemon, pattern: str) -> float:
    """The value of the first /metrics sample matching ``pattern`` (a regex), 0 if none."""
    text = httpx.get(running.daemon.url + "/metrics", timeout=10).text
    for line in text.splitlines():
        if re.match(pattern, line):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def describe(client: AsyncTcpClient) -> Info:
    await client.write_event(Describe().event())
    return Info.from_event((await read_until(client, "info"))[-1])


# -- describe ----------------------------------------------------------------------------------


async def test_describe_lists_the_route_its_engines_and_their_voices(
    running: WyomingDaemon,
) -> None:
    async with running.client() as client:
        info = await describe(client)
    [asr] = info.asr
    assert [model.name for model in asr.models] == ["stt", "whisper"]
    assert all(model.languages == ["en"] for model in asr.models)  # tiny.en says so itself
    assert asr.installed and asr.supports_transcript_streaming
    assert asr.requires_external_vad  # end_of_speech_silence is not set: the client decides
    [tts] = info.tts
    voices = {voice.name: voice for voice in tts.voices}
    assert voices["heart"].languages == ["en-US"] and voices["heart"].installed
    assert tts.supports_synthesize_streaming


# -- speech to text ----------------------------------------------------------------------------


async def test_transcribes_hibaris_speech_in_streamed_chunks(running: WyomingDaemon) -> None:
    events = await transcribe(running, speech(SENTENCES[0]))
    types = [event.type for event in events]
    assert types[0] == "transcript-start" and types[-2:] == ["transcript", "transcript-stop"]
    transcript = Transcript.from_event(events[-2])
    chunks = [event.data["text"] for event in events if event.type == "transcript-chunk"]
    assert chunks and "".join(chunks) == transcript.text
    assert transcript.language == "en"
    assert word_error_rate(SENTENCES[0], transcript.text) <= 0.1, transcript.text


async def test_stereo_at_another_rate_and_an_english_region_are_understood(
    running: WyomingDaemon,
) -> None:
    mono = pcm16(speech(SENTENCES[3]), 22050)
    stereo = b"".join(mono[i : i + 2] * 2 for i in range(0, len(mono), 2))
    async with running.client() as client:
        await client.write_event(Transcribe(language="en-US").event())
        await client.write_event(AudioStart(rate=22050, width=2, channels=2).event())
        for offset in range(0, len(stereo), 4000):  # 4000 bytes: chunks end mid-sample too
            piece = stereo[offset : offset + 4000]
            await client.write_event(WyomingChunk(22050, 2, 2, piece).event())
        await client.write_event(AudioStop().event())
        events = await read_until(client, "transcript-stop")
    text = Transcript.from_event(events[-2]).text
    assert word_error_rate(SENTENCES[3], text) <= 0.1, text


async def test_silence_and_no_audio_give_an_empty_transcript(running: WyomingDaemon) -> None:
    async with running.client() as client:
        await client.write_event(AudioStop().event())  # audio-stop alone
        events = await read_until(client, "transcript-stop")
    assert Transcript.from_event(events[-2]).text == ""
    events = await transcribe(running, quiet(1.0, 16000))
    assert Transcript.from_event(events[-2]).text == ""


# -- text to speech ----------------------------------------------------------------------------


async def test_synthesized_speech_transcribes_back(running: WyomingDaemon) -> None:
    answer = await synthesize(running, Synthesize(text=SENTENCES[1]).event())
    start = AudioStart.from_event(answer[0])
    assert (start.rate, start.width, start.channels) == (24000, 2, 1)
    assert answer[-1].type == "audio-stop"
    assert {event.type for event in answer[1:-1]} == {"audio-chunk"}
    heard = await transcribe(running, audio_of(answer))
    text = Transcript.from_event(heard[-2]).text
    assert word_error_rate(SENTENCES[1], text) <= 0.1, text


async def test_a_voice_alias_and_an_unknown_voice(running: WyomingDaemon) -> None:
    voice = SynthesizeVoice(name="heart")
    answer = await synthesize(running, Synthesize(text="Hello there.", voice=voice).event())
    assert answer[-1].type == "audio-stop"
    missing = SynthesizeVoice(name="nobody-speaks-like-this")
    answer = await synthesize(running, Synthesize(text="Hello there.", voice=missing).event())
    assert answer[-1].type == "error" and "nobody-speaks-like-this" in answer[-1].data["text"]


async def test_streamed_text_is_spoken_sentence_by_sentence(running: WyomingDaemon) -> None:
    parts = [
        "The weather is lovely ",
        "today, so we are going to the park. Please",
        " remember to bring a warm jacket and some water. My brother likes to read",
        " books about history and science.",
    ]
    async with running.client() as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="heart")).event())
        for part in parts[:2]:
            await client.write_event(SynthesizeChunk(text=part).event())
        # The first sentence is complete: it is spoken while the rest of the text is unsent.
        first = await read_until(client, "audio-start")
        assert first[-1].type == "audio-start"
        await write_all(client, [SynthesizeChunk(text=part).event() for part in parts[2:]])
        # Home Assistant repeats the whole text for older servers: it must not be spoken twice.
        await client.write_event(Synthesize(text="".join(parts)).event())
        await client.write_event(SynthesizeStop().event())
        answer = first + await read_until(client, "synthesize-stopped")
    framing = [event.type for event in answer if event.type != "audio-chunk"]
    assert framing == ["audio-start", "audio-stop"] * 3 + ["synthesize-stopped"]
    rates = {event.data["rate"] for event in answer if event.type == "audio-chunk"}
    assert rates == {24000}
    heard = await transcribe(running, audio_of(answer))
    text = Transcript.from_event(heard[-2]).text
    assert word_error_rate(" ".join(SENTENCES[:3]), text) <= 0.1, text


# -- bad input ---------------------------------------------------------------------------------


async def _answer_to(running: WyomingDaemon, data: bytes) -> list[Event]:
    """What the daemon answers raw bytes with, up to its closing the connection."""
    async with raw_connection(running.port) as (reader, writer):
        writer.write(data)
        await writer.drain()
        events = []
        while (event := await asyncio.wait_for(async_read_event(reader), 30)) is not None:
            events.append(event)
        assert await reader.read() == b""  # closed by the daemon
    return events


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"this is not json\n", "bad_event"),
        (b"[" * 200_000 + b"\n", "bad_event"),  # nesting deeper than any parser recursion
        (b'["a list"]\n', "bad_event"),
        (b'{"type": 5}\n', "bad_event"),
        (b'{"type": "describe", "data_length": -1}\n', "bad_event"),
        (b'{"type": "describe", "data_length": 4}\n[12]', "bad_event"),
        (
            b'{"type": "audio-chunk", "data": {"rate": 16000, "width": 2, "channels": 1}, '
            b'"payload_length": 100000000000}\n',
            "event_too_large",
        ),
        (b'{"type": "x", "data": {"t": "' + b"a" * 2_000_000 + b'"}}\n', "event_too_large"),
        (
            b'{"type": "audio-start", "data": {"rate": 16000, "width": 4, "channels": 1}}\n',
            "unsupported_audio",
        ),
        (
            b'{"type": "audio-start", "data": {"rate": 96000, "width": 2, "channels": 1}}\n',
            "unsupported_audio",
        ),
        (
            b'{"type": "audio-start", "data": {"rate": "fast", "width": 2, "channels": 1}}\n',
            "bad_audio_format",
        ),
        (b'{"type": "synthesize", "data": {"text": " \\u200b.. "}}\n', "empty_input"),
        (b'{"type": "synthesize", "data": {"text": ["not", "text"]}}\n', "invalid_request"),
        (b'{"type": "synthesize", "data": {"text": "hi", "voice": "heart"}}\n', "invalid_request"),
        (b'{"type": "synthesize-chunk", "data": {"text": "hi"}}\n', "bad_order"),
        (b'{"type": "transcribe", "data": {"language": 7}}\n', "invalid_request"),
    ],
)
async def test_bad_input_gets_an_error_event_and_a_closed_connection(
    running: WyomingDaemon, data: bytes, code: str
) -> None:
    events = await _answer_to(running, data)
    assert [event.type for event in events] == ["error"]
    assert events[0].data["code"] == code, events[0].data


async def test_too_much_text_and_a_format_change_mid_command(running: WyomingDaemon) -> None:
    answer = await synthesize(running, Synthesize(text="word " * 1000).event())
    assert answer[-1].type == "error" and answer[-1].data["code"] == "input_too_long"
    async with running.client() as client:
        await client.write_event(AudioStart(rate=16000, width=2, channels=1).event())
        await client.write_event(WyomingChunk(16000, 2, 1, bytes(3200)).event())
        await client.write_event(WyomingChunk(8000, 2, 1, bytes(3200)).event())
        events = await read_until(client, "transcript")
        assert events[-1].data["code"] == "unsupported_audio"
        assert await client.read_event() is None


async def test_unknown_events_are_ignored_and_ping_is_answered(running: WyomingDaemon) -> None:
    async with running.client() as client:
        await client.write_event(Event(type="detect", data={"names": ["ok nabu"]}))
        await client.write_event(Event(type="select-program", data={"name": "voxgate"}))
        await client.write_event(Ping(text="still there?").event())
        events = await read_until(client, "pong")
    assert [event.type for event in events] == ["pong"]
    assert events[0].data["text"] == "still there?"


async def test_clients_that_vanish_mid_stream_leave_the_daemon_serving(
    running: WyomingDaemon,
) -> None:
    pcm = pcm16(speech(SENTENCES[2]))
    long_text = Synthesize(text=" ".join(SENTENCES)).event()
    streamed = [SynthesizeStart().event(), SynthesizeChunk(text=SENTENCES[0] + " And").event()]
    # Gone mid-command (audio half sent), mid-answer (audio half read), mid-text-stream.
    for events, answer in ((command_events(pcm)[:20], 0), ([long_text], 1), (streamed, 1)):
        async with raw_connection(running.port) as (reader, writer):
            writer.write(b"".join(_raw(event) for event in events))
            await writer.drain()
            if answer:
                assert await asyncio.wait_for(async_read_event(reader), 60) is not None
            writer.transport.abort()
    events = await transcribe(running, speech(SENTENCES[2]))
    text = Transcript.from_event(events[-2]).text
    assert word_error_rate(SENTENCES[2], text) <= 0.1, text
    deadline = time.monotonic() + 20
    while metric(running, r'voxgate_front_door_connections\{front_door="wyoming"\}') > 0:
        assert time.monotonic() < deadline, "a vanished client's connection is still counted"
        await asyncio.sleep(0.2)
    gone = r'voxgate_front_door_requests_total\{.*outcome="gone",request="synthesize"'
    assert metric(running, gone) >= 1


def _raw(event: Event) -> bytes:
    """An event's bytes: the header line (data inline), then the payload."""
    header: dict[str, object] = {"type": event.type, "data": event.data}
    if event.payload:
        header["payload_length"] = len(event.payload)
    return json.dumps(header).encode() + b"\n" + (event.payload or b"")


# -- limits ------------------------------------------------------------------------------------


async def test_audio_past_max_audio_seconds_ends_the_command(running: WyomingDaemon) -> None:
    async with running.client() as client:
        await write_all(client, command_events(pcm16(quiet(21.0, 16000)))[:-1])
        events = await read_until(client, "transcript")
        assert events[-1].type == "error" and events[-1].data["code"] == "audio_too_long"
        assert await client.read_event() is None


async def test_idle_connections_are_closed(running: WyomingDaemon) -> None:
    async with running.client() as client:
        started = time.monotonic()
        assert await client.read_event() is None  # idle between requests: closed quietly
        assert 2.0 < time.monotonic() - started < 30
    async with running.client() as client:
        await client.write_event(AudioStart(rate=16000, width=2, channels=1).event())
        event = await client.read_event()  # a command left hanging: told why, then closed
        assert event is not None and event.data["code"] == "idle_timeout"
        assert await client.read_event() is None


async def test_connections_past_the_cap_are_told_busy(running: WyomingDaemon) -> None:
    clients = [running.client() for _ in range(4)]
    for client in clients:
        await client.connect()
        await describe(client)  # admitted and served
    try:
        async with running.client() as extra:
            events = await _describe_events(extra)
            assert events[-1].type == "error" and events[-1].data["code"] == "busy"
            assert await extra.read_event() is None
    finally:
        for client in clients:
            await client.disconnect()
    deadline = time.monotonic() + 20
    while True:  # the slots come back
        async with running.client() as client:
            if (await _describe_events(client))[-1].type == "info":
                break
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    full = r'voxgate_front_door_refused_total\{front_door="wyoming",reason="full"\}'
    assert metric(running, full) >= 1


async def _describe_events(client: AsyncTcpClient) -> list[Event]:
    await client.write_event(Describe().event())
    return await read_until(client, "info")


async def test_clients_outside_the_allow_list_are_disconnected(running: WyomingDaemon) -> None:
    async with raw_connection(running.port, source="127.0.0.2") as (reader, writer):
        writer.write(_raw(Describe().event()))
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 30) == b""  # not a byte of an answer
    refused = r'voxgate_front_door_refused_total\{front_door="wyoming",reason="not_allowed"\}'
    assert metric(running, refused) >= 1


# -- discovery and metrics ---------------------------------------------------------------------


async def test_zeroconf_announces_the_listener(running: WyomingDaemon) -> None:
    from zeroconf import IPVersion
    from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

    name = f"voxgate-test-{running.port}._wyoming._tcp.local."
    browser = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    try:
        deadline = time.monotonic() + 30
        while True:
            info = AsyncServiceInfo("_wyoming._tcp.local.", name)
            if await info.async_request(browser.zeroconf, 2000):
                break
            assert time.monotonic() < deadline, "the listener was not announced"
    finally:
        await browser.async_close()
    assert info.port == running.port
    assert info.parsed_addresses() == ["127.0.0.1"]


async def test_wyoming_requests_are_counted_by_the_router_and_the_front_door(
    running: WyomingDaemon,
) -> None:
    served = r'voxgate_requests_total\{capability="tts",engine="hibari",outcome="ok"'
    before = metric(running, served)
    await synthesize(running, Synthesize(text="Counting requests.").event())
    assert metric(running, served) == before + 1
    door = r'voxgate_front_door_requests_total\{front_door="wyoming",outcome="ok"'
    assert metric(running, door + r',request="synthesize"') >= 1
    timed = r'voxgate_front_door_request_seconds_count\{front_door="wyoming",request="transcribe"'
    assert metric(running, timed) >= 1
