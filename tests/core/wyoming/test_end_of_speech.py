"""With ``end_of_speech_silence`` the server finds the end of a command itself (the vad route):
voice-started and voice-stopped while audio arrives, and the transcript before audio-stop."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from wyoming.asr import Transcript
from wyoming.audio import AudioStop
from wyoming.info import Describe, Info
from wyoming.vad import VoiceStarted, VoiceStopped

from tests.core.wyoming.support import (
    RATE,
    WyomingDaemon,
    command_events,
    pcm16,
    read_until,
    write_all,
    wyoming_daemon,
)
from tests.support.speech import SENTENCES, joined, quiet, speech, voiced_span
from tests.support.wer import word_error_rate

CONFIG = """\
mode: local
reload: {watch: false}
engines:
  whisper: {capability: stt, engine: faster_whisper, preload: true}
  silero: {capability: vad, engine: silero, preload: true}
routes: {stt: [whisper], vad: [silero]}
"""


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WyomingDaemon]:
    folder = tmp_path_factory.mktemp("wyoming-vad")
    with wyoming_daemon(folder, CONFIG, "end_of_speech_silence: 0.6s") as daemon:
        yield daemon


async def test_the_command_ends_at_the_end_of_speech(running: WyomingDaemon) -> None:
    spoken = speech(SENTENCES[2])
    lead = quiet(1.0, spoken.sample_rate, noise=0.001)
    audio = joined(lead, spoken, quiet(3.0, spoken.sample_rate, noise=0.001))
    async with running.client() as client:
        await client.write_event(Describe().event())
        info = Info.from_event((await read_until(client, "info"))[-1])
        assert not info.asr[0].requires_external_vad
        # Everything but audio-stop: the answer must not wait for it.
        await write_all(client, command_events(pcm16(audio))[:-1])
        events = await read_until(client, "transcript-stop")
        await client.write_event(AudioStop().event())  # ends the stream; answered already
    types = [event.type for event in events]
    assert types[:2] == ["voice-started", "voice-stopped"]
    assert types[-2:] == ["transcript", "transcript-stop"]
    started = VoiceStarted.from_event(events[0]).timestamp
    stopped = VoiceStopped.from_event(events[1]).timestamp
    assert started is not None and stopped is not None
    first, last = voiced_span(spoken)
    # Within a few frames of where the speech really is (1 s of quiet lead in).
    assert abs(started / 1000 - (1.0 + first)) < 0.25, started
    assert abs(stopped / 1000 - (1.0 + last)) < 0.6, stopped
    text = Transcript.from_event(events[-2]).text
    assert word_error_rate(SENTENCES[2], text) <= 0.1, text


async def test_without_speech_the_client_still_ends_the_command(running: WyomingDaemon) -> None:
    async with running.client() as client:
        await write_all(client, command_events(pcm16(quiet(1.5, RATE, noise=0.001))))
        events = await read_until(client, "transcript-stop")
    assert [event.type for event in events][-2:] == ["transcript", "transcript-stop"]
    assert Transcript.from_event(events[-2]).text == ""
