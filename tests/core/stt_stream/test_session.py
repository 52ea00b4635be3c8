"""A live session fed 20 ms chunks of real speech, transcribed by Whisper tiny.en and cut by
Silero VAD: partial transcripts while an utterance goes on, a final one once it ends."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import numpy as np

from core.audio.chunk import AudioChunk
from core.audio.g711 import ulaw_encode
from core.engines.stt import Segment, Word
from core.stt_stream import (
    FinalTranscript,
    InputFormat,
    PartialTranscript,
    SessionEvent,
    SessionOptions,
    TranscribedAudio,
    TranscriptFailed,
    TranscriptionSession,
)
from core.stt_stream.events import Transcriber
from plugins.stt_whisper.engine import FasterWhisperEngine
from plugins.stt_whisper.vad import SileroVADEngine
from tests.plugins.stt_whisper.support import engine_transcriber
from tests.support.speech import SENTENCES, at_rate, joined, quiet, speech, voiced_span
from tests.support.wer import word_error_rate


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def mulaw_8k(audio: AudioChunk) -> bytes:
    return ulaw_encode(at_rate(audio, 8000).samples)


def pcm16(audio: AudioChunk, rate: int) -> bytes:
    return at_rate(audio, rate).to_pcm16()


class Collector:
    """Gathers a session's events in the background."""

    def __init__(self, session: TranscriptionSession) -> None:
        self.events: list[SessionEvent] = []
        self.final_seen = asyncio.Event()
        self._task = asyncio.create_task(self._collect(session))

    async def _collect(self, session: TranscriptionSession) -> None:
        async for event in session.events():
            self.events.append(event)
            if isinstance(event, FinalTranscript):
                self.final_seen.set()

    async def done(self) -> list[SessionEvent]:
        await asyncio.wait_for(self._task, 120)
        return self.events

    @property
    def finals(self) -> list[FinalTranscript]:
        return [e for e in self.events if isinstance(e, FinalTranscript)]


def assert_partials_come_first(events: list[SessionEvent]) -> None:
    """Every partial precedes its utterance's final, and utterances come in order."""
    finished: set[int] = set()
    for event in events:
        if isinstance(event, PartialTranscript):
            assert event.utterance not in finished
        elif isinstance(event, FinalTranscript):
            finished.add(event.utterance)
    finals = [e.utterance for e in events if isinstance(e, FinalTranscript)]
    assert finals == list(range(len(finals)))


async def test_mulaw_at_8k_gives_a_final_at_each_pause(
    whisper: FasterWhisperEngine, silero: SileroVADEngine
) -> None:
    first, second = speech(SENTENCES[0]), speech(SENTENCES[1])
    lead = 0.6
    opening = joined(quiet(lead, 24_000, noise=0.003), first, quiet(1.2, 24_000, noise=0.003))
    closing = joined(second, quiet(1.0, 24_000, noise=0.003))
    options = SessionOptions(input=InputFormat("mulaw", 8000), partial_interval=1.5)
    async with TranscriptionSession(
        engine_transcriber(whisper), silero.detector(), options
    ) as session:
        collector = Collector(session)
        for chunk in chunks(mulaw_8k(opening), 160):  # 20 ms at 8 kHz
            await session.feed(chunk)
        # The pause after the first sentence ends the utterance: its final comes without
        # waiting for the end of the stream.
        await asyncio.wait_for(collector.final_seen.wait(), 60)
        for chunk in chunks(mulaw_8k(closing), 160):
            await session.feed(chunk)
        await session.finish()
        events = await collector.done()

    finals = collector.finals
    assert [f.utterance for f in finals] == [0, 1]
    assert word_error_rate(SENTENCES[0], finals[0].text) <= 0.1, finals[0].text
    assert word_error_rate(SENTENCES[1], finals[1].text) <= 0.1, finals[1].text
    assert any(isinstance(e, PartialTranscript) and e.utterance == 0 for e in events)
    assert_partials_come_first(events)
    # Times are on the stream's clock and bracket the voiced audio.
    voiced_start, voiced_end = voiced_span(first)
    assert finals[0].start <= lead + voiced_start <= finals[0].end
    assert lead + voiced_end <= finals[0].end <= opening.duration
    assert finals[0].end <= finals[1].start + 0.5
    assert finals[1].start <= opening.duration + voiced_span(second)[0]
    assert finals[1].language == "en"
    assert finals[1].engine == "whisper"
    for final in finals:
        for segment in final.segments:
            assert final.start - 0.05 <= segment.start <= segment.end <= final.end + 0.05


async def test_pcm_at_48k_is_finalized_when_the_stream_ends_mid_speech(
    whisper: FasterWhisperEngine, silero: SileroVADEngine
) -> None:
    sentence = speech(SENTENCES[2])
    audio = joined(quiet(0.5, 24_000), sentence)
    options = SessionOptions(input=InputFormat("pcm_s16le", 48_000), partial_interval=0.8)
    async with TranscriptionSession(
        engine_transcriber(whisper), silero.detector(), options
    ) as session:
        collector = Collector(session)
        for chunk in chunks(pcm16(audio, 48_000), 1920):  # 20 ms at 48 kHz
            await session.feed(chunk)
        await session.finish()
        events = await collector.done()
    finals = collector.finals
    assert len(finals) == 1
    assert word_error_rate(SENTENCES[2], finals[0].text) <= 0.1, finals[0].text
    partials = [e for e in events if isinstance(e, PartialTranscript)]
    assert partials, "a 3 s utterance should get a partial transcript before its final"
    assert events.index(partials[0]) < events.index(finals[0])
    # A partial covers the utterance so far: it starts where the final does and ends earlier.
    assert partials[0].start == finals[0].start
    assert partials[0].end < finals[0].end
    assert finals[0].end >= 0.5 + voiced_span(sentence)[1] - 0.05


async def test_long_speech_is_cut_at_max_utterance(silero: SileroVADEngine) -> None:
    # Only the cutting is under test: the transcriber just reports how much audio it got.
    async def measure(audio: AudioChunk, *, final: bool) -> TranscribedAudio:
        words = (Word(0.0, audio.duration, f"{len(audio.samples)}"),)
        return TranscribedAudio((Segment(0, 0.0, audio.duration, "x", words=words),))

    options = SessionOptions(
        input=InputFormat("pcm_s16le", 16_000), partial_interval=0, max_utterance=1.5
    )
    async with TranscriptionSession(measure, silero.detector(), options) as session:
        collector = Collector(session)
        for chunk in chunks(pcm16(speech(SENTENCES[0]), 16_000), 640):
            await session.feed(chunk)
        await session.finish()
        await collector.done()
    finals = collector.finals
    assert len(finals) >= 2
    frame = 512 / 16_000  # cuts fall on frame borders
    for final in finals:
        assert final.end - final.start <= 1.5 + frame
        handed = int(final.segments[0].words[0].word)
        assert handed == round((final.end - final.start) * 16_000)
        assert final.segments[0].start == final.start  # shifted onto the stream's clock
    for earlier, later in itertools.pairwise(finals):
        assert earlier.end == later.start  # consecutive pieces, nothing lost between them


async def test_a_failed_transcription_is_reported_and_the_session_goes_on(
    whisper: FasterWhisperEngine, silero: SileroVADEngine
) -> None:
    real = engine_transcriber(whisper)
    calls = 0

    async def first_call_fails(audio: AudioChunk, *, final: bool) -> TranscribedAudio:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("engine fell over")
        return await real(audio, final=final)

    transcriber: Transcriber = first_call_fails
    audio = joined(speech(SENTENCES[0]), quiet(1.0, 24_000), speech(SENTENCES[1]))
    options = SessionOptions(input=InputFormat("f32le", 24_000), partial_interval=0)
    async with TranscriptionSession(transcriber, silero.detector(), options) as session:
        collector = Collector(session)
        data = np.ascontiguousarray(audio.samples, dtype="<f4").tobytes()
        for chunk in chunks(data, 4 * 480):
            await session.feed(chunk)
        await session.finish()
        events = await collector.done()
    failed = [e for e in events if isinstance(e, TranscriptFailed)]
    assert len(failed) == 1 and failed[0].final and failed[0].utterance == 0
    assert str(failed[0].error) == "engine fell over"
    assert [f.utterance for f in collector.finals] == [1]
    assert word_error_rate(SENTENCES[1], collector.finals[0].text) <= 0.1
    assert not [e for e in events if isinstance(e, PartialTranscript)], "partials were off"


async def test_silence_alone_gives_no_events(
    whisper: FasterWhisperEngine, silero: SileroVADEngine
) -> None:
    options = SessionOptions(input=InputFormat("mulaw", 8000))
    async with TranscriptionSession(
        engine_transcriber(whisper), silero.detector(), options
    ) as session:
        collector = Collector(session)
        for chunk in chunks(mulaw_8k(quiet(3.0, 8000, noise=0.003)), 160):
            await session.feed(chunk)
        await session.finish()
        assert await collector.done() == []


async def test_closing_early_stops_without_waiting_for_queued_work(
    whisper: FasterWhisperEngine, silero: SileroVADEngine
) -> None:
    options = SessionOptions(input=InputFormat("pcm_s16le", 16_000))
    session = TranscriptionSession(engine_transcriber(whisper), silero.detector(), options)
    async with session:
        collector = Collector(session)
        await session.feed(pcm16(joined(speech(SENTENCES[0]), quiet(1.0, 24_000)), 16_000))
    await collector.done()  # the event stream ends once the session is closed
    try:
        await session.feed(b"\x00\x00")
    except RuntimeError as exc:
        assert "finished" in str(exc)
    else:
        raise AssertionError("a closed session accepted audio")
