"""The listener lives and dies with the daemon: reloads reach open connections request by
request, SIGTERM lets the command under way finish, and a port that cannot be bound stops the
start with a clear message."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from wyoming.asr import Transcript
from wyoming.info import Describe, Info
from wyoming.tts import SynthesizeChunk, SynthesizeStart, SynthesizeStop

from tests.core.wyoming.support import (
    WyomingDaemon,
    audio_of,
    command_events,
    pcm16,
    raw_connection,
    read_until,
    write_all,
    wyoming_daemon,
)
from tests.support.speech import SENTENCES, speech
from tests.support.wer import word_error_rate

CONFIG = """\
mode: local
reload: {{watch: false}}
engines:
  whisper: {{capability: stt, engine: faster_whisper, preload: true}}
  hibari: {{capability: tts, engine: hibari, preload: true, settings: {{seed: {seed}}}}}
{more_engines}
routes: {{stt: [{stt}], tts: [hibari]}}
"""
SECOND_WHISPER = "  whisper_b: {capability: stt, engine: faster_whisper}"


def config(seed: int = 1, second_whisper: bool = False) -> str:
    return CONFIG.format(
        seed=seed,
        more_engines=SECOND_WHISPER if second_whisper else "",
        stt="whisper, whisper_b" if second_whisper else "whisper",
    )


async def models(client) -> list[str]:  # type: ignore[no-untyped-def]
    await client.write_event(Describe().event())
    info = Info.from_event((await read_until(client, "info"))[-1])
    return [model.name for model in info.asr[0].models]


def reload(running: WyomingDaemon) -> dict[str, object]:
    answer = httpx.post(running.daemon.url + "/control/reload", timeout=120)
    assert answer.status_code == 200, answer.text
    result: dict[str, object] = answer.json()
    assert result["ok"], result
    return result


async def test_reloads_reach_open_connections_between_requests(tmp_path: Path) -> None:
    with wyoming_daemon(tmp_path, config()) as running:
        async with running.client() as client, running.client() as speaking:
            assert await models(client) == ["stt", "whisper"]
            # A streamed answer is under way when the configuration changes under it.
            await speaking.write_event(SynthesizeStart().event())
            await speaking.write_event(SynthesizeChunk(text=SENTENCES[0] + " Please").event())
            first = await read_until(speaking, "audio-stop")

            running.write(config(seed=2, second_whisper=True), "allowed_clients: [127.0.0.2/32]")
            assert reload(running)["changed"] == ["hibari"]

            # The same connections go on; their next request sees the new configuration.
            assert await models(client) == ["stt", "whisper", "whisper_b"]
            await write_all(client, command_events(pcm16(speech(SENTENCES[3]))))
            heard = await read_until(client, "transcript-stop")
            text = Transcript.from_event(heard[-2]).text
            assert word_error_rate(SENTENCES[3], text) <= 0.1, text
            # The answer that started before the reload ends on the engine it started with.
            await speaking.write_event(SynthesizeChunk(text=SENTENCES[1][6:]).event())
            await speaking.write_event(SynthesizeStop().event())
            rest = await read_until(speaking, "synthesize-stopped")
            assert rest[-1].type == "synthesize-stopped"
            # (transcribed on the open connection: the new allow-list keeps new ones out)
            await write_all(client, command_events(pcm16(audio_of(first + rest))))
            spoken = await read_until(client, "transcript-stop")
            text = Transcript.from_event(spoken[-2]).text
            assert word_error_rate(f"{SENTENCES[0]} {SENTENCES[1]}", text) <= 0.1, text

        # New connections follow the new allow-list.
        async with raw_connection(running.port) as (reader, _):
            assert await asyncio.wait_for(reader.read(), 30) == b""
        async with raw_connection(running.port, source="127.0.0.2") as (reader, writer):
            writer.write(b'{"type": "ping"}\n')
            await writer.drain()
            assert b'"pong"' in await asyncio.wait_for(reader.readline(), 30)
        assert "wyoming.restart_needed" not in running.daemon.log.read_text()
        # What only a restart applies is logged as such.
        running.write(config(seed=2, second_whisper=True), "zeroconf: true", port=1)
        reload(running)
        [line] = [x for x in running.daemon.log.read_text().splitlines() if "restart_needed" in x]
        assert '"changed": ["port", "zeroconf"]' in line


async def test_sigterm_lets_the_command_under_way_finish(tmp_path: Path) -> None:
    with wyoming_daemon(tmp_path, config()) as running:
        pcm = pcm16(speech(SENTENCES[1]))
        command = command_events(pcm)
        half = len(command) // 2
        async with running.client() as idle, running.client() as speaking:
            assert await models(idle) == ["stt", "whisper"]
            await write_all(speaking, command[:half])
            await asyncio.sleep(0.5)  # the audio so far has arrived
            running.daemon.process.send_signal(signal.SIGTERM)
            assert await idle.read_event() is None  # nothing under way: closed at once
            await write_all(speaking, command[half:])
            events = await read_until(speaking, "transcript-stop")
            text = Transcript.from_event(events[-2]).text
            assert word_error_rate(SENTENCES[1], text) <= 0.1, text
            assert await speaking.read_event() is None  # and then closed
        assert running.daemon.process.wait(30) == 0
        log = running.daemon.log.read_text()
        assert "runtime.stopped" in log and "wyoming.drain_timeout" not in log


def test_a_port_that_cannot_be_bound_stops_the_start(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        path = tmp_path / "ai_backend.yaml"
        path.write_text(
            "engines: {hibari: {capability: tts, engine: hibari}}\nroutes: {tts: [hibari]}\n"
            f"wyoming: {{enabled: true, port: {port}}}\n"
        )
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "core.cli.main", "serve", "--config", str(path), "--port", "0"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        taken.close()
    assert result.returncode == 1, result.stderr
    assert f"the Wyoming listener cannot bind 127.0.0.1:{port}" in result.stderr
    assert time.monotonic() - started < 120
