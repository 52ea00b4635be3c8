"""A live transcription: audio chunks in, partial and final transcripts out.

Each chunk is decoded, resampled to the detector's rate and cut into its frames; every frame gets
a speech probability, and the :class:`Endpointer` finds where utterances start and end. While
an utterance goes on, a partial transcript of it is made every ``partial_interval`` seconds of
audio (skipped while the transcriber is busy, so a slow engine is never queued up with stale
work); when it ends, its final transcript is queued and always made. Transcripts come out of
:meth:`TranscriptionSession.events` in order: an utterance's partials, then its final.

The session knows no engine: it is given a transcriber (an engine, or a router call) and a
speech detector, so any STT and VAD engines can serve it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType

import numpy as np
import structlog

from core.audio.chunk import AudioChunk, FloatArray
from core.engines.vad import SpeechDetector
from core.stt_stream.endpointing import Change, Endpointer, EndpointingOptions
from core.stt_stream.events import (
    FinalTranscript,
    PartialTranscript,
    SessionEvent,
    Transcriber,
    TranscriptFailed,
    joined_text,
    shifted,
)
from core.stt_stream.framing import ChunkDecoder, Framer, InputFormat
from core.stt_stream.recording import Recording

log = structlog.get_logger(__name__)

_EMPTY = np.zeros(0, dtype=np.float32)


@dataclass(frozen=True, slots=True)
class SessionOptions:
    input: InputFormat = field(default_factory=InputFormat)
    endpointing: EndpointingOptions = field(default_factory=EndpointingOptions)
    #: Seconds of utterance audio between partial transcripts; 0 turns partials off.
    partial_interval: float = 1.0
    #: An utterance this long is finalized even without a pause (Whisper reads 30 s windows).
    max_utterance: float = 30.0

    def __post_init__(self) -> None:
        if self.partial_interval < 0:
            raise ValueError("partial_interval must not be negative")
        if self.max_utterance <= 0:
            raise ValueError("max_utterance must be positive")


@dataclass(frozen=True, slots=True)
class _Job:
    utterance: int
    final: bool
    samples: FloatArray
    #: First and one-past-last sample, on the stream's clock at the detector's rate.
    start: int
    end: int


class TranscriptionSession:
    """Feed audio, then :meth:`finish`; read :meth:`events` meanwhile. Use it as an async context
    manager (or call :meth:`aclose`) so a session left early stops its work."""

    def __init__(
        self,
        transcribe: Transcriber,
        detector: SpeechDetector,
        options: SessionOptions | None = None,
        *,
        detector_rate: int = 16000,
    ) -> None:
        self.options = options or SessionOptions()
        self._transcribe = transcribe
        self._detector = detector
        self._rate = detector_rate
        self._decoder = ChunkDecoder(self.options.input.encoding)
        self._framer = Framer(self.options.input.sample_rate, detector_rate, detector.frame_size)
        self._endpointer = Endpointer(self.options.endpointing, detector.frame_size, detector_rate)
        self._recording = Recording()
        self._pad = self.options.endpointing.speech_pad_ms * detector_rate // 1000
        self._partial_every = round(self.options.partial_interval * detector_rate)
        self._max_utterance = round(self.options.max_utterance * detector_rate)
        # The utterance being recorded: where its audio starts and its id once it has one.
        self._utterance_start: int | None = None
        self._utterance_id: int | None = None
        self._next_partial = 0
        self._ids = 0
        self._jobs: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._events: asyncio.Queue[SessionEvent | None] = asyncio.Queue()
        self._busy = False
        self._feeding = asyncio.Lock()
        self._worker: asyncio.Task[None] | None = None
        self._finished = False
        self._closed = False

    async def __aenter__(self) -> TranscriptionSession:
        self._start()
        return self

    def _start(self) -> None:
        if self._worker is None and not self._closed:
            self._worker = asyncio.create_task(self._work(), name="stt-stream-transcriber")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- input -----------------------------------------------------------------------------

    async def feed(self, data: bytes) -> None:
        """Add audio in the session's input format (any length, even part of a sample)."""
        async with self._feeding:
            if self._finished:
                raise RuntimeError("the session has finished")
            samples = self._decoder.decode(data)
            if len(samples) == 0:
                return
            self._start()
            # Resampling and about 1-2 ms of detector time per frame: off the event loop.
            jobs = await asyncio.to_thread(self._analyse, samples, False)
        self._schedule(jobs)

    async def finish(self) -> None:
        """End of input: finalize the open utterance and wait until every final is out."""
        if self._finished:
            return
        async with self._feeding:
            self._finished = True
            self._start()
            jobs = await asyncio.to_thread(self._analyse, _EMPTY, True)
        self._schedule(jobs)
        self._jobs.put_nowait(None)
        if self._worker is not None:
            await asyncio.shield(self._worker)

    async def events(self) -> AsyncIterator[SessionEvent]:
        """Transcripts as they are made; ends after :meth:`finish` (or :meth:`aclose`)."""
        while True:
            event = await self._events.get()
            if event is None:
                return
            yield event

    async def aclose(self) -> None:
        """Stop now (client gone): drop queued work; a running transcription ends on its own."""
        self._finished = self._closed = True
        worker, self._worker = self._worker, None
        if worker is not None and not worker.done():
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._events.put_nowait(None)

    # -- analysis (worker thread, one call at a time) --------------------------------------

    def _analyse(self, samples: FloatArray, last: bool) -> list[_Job]:
        frames = self._framer.flush() if last else self._framer.push(samples)
        jobs: list[_Job] = []
        for frame in frames:
            probability = self._detector.probability(frame)
            self._recording.append(frame)
            transition = self._endpointer.push(probability)
            if transition is not None:
                if transition.change is Change.STARTED:
                    self._open(transition.start)
                else:
                    jobs.extend(self._close(transition.end, transition.change))
            if self._utterance_start is not None:
                jobs.extend(self._while_speaking())
            else:
                # Between utterances only the pre-roll is worth keeping.
                self._recording.forget_before(self._endpointer.position - self._pad - len(frame))
        if last:
            transition = self._endpointer.finish()
            if transition is not None:
                jobs.extend(self._close(transition.end, transition.change))
        return jobs

    def _open(self, speech_start: int) -> None:
        self._begin(max(speech_start - self._pad, self._recording.start))

    def _begin(self, start: int) -> None:
        self._recording.forget_before(start)
        self._utterance_start = start
        self._utterance_id = None
        self._next_partial = self._partial_every

    def _while_speaking(self) -> list[_Job]:
        start = self._utterance_start
        assert start is not None
        length = self._endpointer.position - start
        if length >= self._max_utterance:
            cut = self._endpointer.cut()
            assert cut is not None
            jobs = self._close_at(cut, keep=True)
            self._begin(cut)
            return jobs
        if self._partial_every and length >= self._next_partial:
            self._next_partial = length + self._partial_every
            return [self._job(final=False, end=self._endpointer.position)]
        return []

    def _close(self, speech_end: int, change: Change) -> list[_Job]:
        # A blip too short to be speech is dropped, unless a partial already announced it.
        keep = change is Change.ENDED or self._utterance_id is not None
        return self._close_at(speech_end + self._pad, keep=keep)

    def _close_at(self, end: int, *, keep: bool) -> list[_Job]:
        jobs = [self._job(final=True, end=min(end, self._recording.end))] if keep else []
        self._utterance_start = None
        self._utterance_id = None
        return jobs

    def _job(self, *, final: bool, end: int) -> _Job:
        start = self._utterance_start
        assert start is not None
        if self._utterance_id is None:
            self._utterance_id = self._ids
            self._ids += 1
        return _Job(self._utterance_id, final, self._recording.between(start, end), start, end)

    # -- transcription (event loop) --------------------------------------------------------

    def _schedule(self, jobs: list[_Job]) -> None:
        for job in jobs:
            if not job.final and (self._busy or not self._jobs.empty()):
                continue  # a partial would only be stale by the time the engine is free
            self._jobs.put_nowait(job)

    async def _work(self) -> None:
        while True:
            job = await self._jobs.get()
            if job is None:
                break
            self._busy = True
            try:
                self._events.put_nowait(await self._run(job))
            finally:
                self._busy = False
        self._events.put_nowait(None)

    async def _run(self, job: _Job) -> SessionEvent:
        start, end = job.start / self._rate, job.end / self._rate
        try:
            result = await self._transcribe(AudioChunk(job.samples, self._rate), final=job.final)
        except Exception as exc:  # reported to the client; the next utterance may succeed
            log.warning(
                "stt_stream.transcription_failed",
                utterance=job.utterance,
                final=job.final,
                error=str(exc) or type(exc).__name__,
            )
            return TranscriptFailed(job.utterance, job.final, exc)
        segments = tuple(shifted(s, start) for s in result.segments)
        text = joined_text(segments)
        if not job.final:
            return PartialTranscript(job.utterance, text, start, end)
        language = next((s.language for s in segments if s.language), None)
        return FinalTranscript(job.utterance, text, start, end, segments, language, result.engine)
