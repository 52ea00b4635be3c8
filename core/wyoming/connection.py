"""One Wyoming connection: read events, answer them, in order, until the client leaves.

Requests (describe, a transcription, a synthesis, a synthesis stream) each lease the
configuration in force when they start. Anything that cannot be served gets an ``error`` event
and the connection is closed; unknown event types are ignored, as the protocol asks. The
connection also closes after ``idle_timeout`` without an event, and, when the daemon stops, as
soon as no request of it is under way (a command whose audio is still arriving is finished).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.ping import Ping, Pong
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

from core.engines.errors import EngineError
from core.routing.errors import RoutingError
from core.stt_stream.routed import routed_detector
from core.wyoming import info, speech, transcribe
from core.wyoming.audio_in import IncomingAudio, PcmFormat
from core.wyoming.context import Context
from core.wyoming.errors import Refusal, error_event
from core.wyoming.framing import EventReader
from core.wyoming.voice_activity import VoiceWatch

log = structlog.get_logger(__name__)


class Connection:
    def __init__(self, ctx: Context, reader: EventReader, stopping: asyncio.Event) -> None:
        self._ctx = ctx
        self._reader = reader
        self._stopping = stopping
        self._read: asyncio.Task[Event | None] | None = None
        #: The request under way, for the metrics when it fails.
        self._request: str | None = None
        self._options = transcribe.CommandOptions()
        self._audio: IncomingAudio | None = None
        #: Between a command's first audio and its audio-stop.
        self._audio_open = False
        #: The command was answered at its end of speech; its remaining audio is ignored.
        self._answered = False
        self._watch: VoiceWatch | None = None
        self._speech: speech.SpeechStream | None = None

    @property
    def busy(self) -> bool:
        return self._audio_open or self._speech is not None

    async def run(self) -> None:
        try:
            while (event := await self._next()) is not None:
                await self._handle(event)
            if self.busy:  # the client closed in the middle of a request
                self._gone()
        except (ConnectionError, OSError):
            self._gone()
        except Exception as exc:
            await self._fail(exc)
        finally:
            if self._read is not None:
                self._read.cancel()
            if self._speech is not None:
                await self._speech.cancel()

    def _gone(self) -> None:
        if self._request is not None:
            self._ctx.count(self._request, "gone")
        log.info("wyoming.client_gone", request=self._request)

    async def _fail(self, exc: Exception) -> None:
        event, outcome = error_event(exc)
        request = self._request or "protocol"
        self._ctx.count(request, outcome)
        details = {"request": request, "code": event.data.get("code"), "error": event.data["text"]}
        if outcome == "refused" or isinstance(exc, EngineError | RoutingError):
            name = "wyoming.refused" if outcome == "refused" else "wyoming.failed"
            log.info(name, **details)
        else:
            log.exception("wyoming.failed", **details, exc_info=exc)
        with contextlib.suppress(ConnectionError, OSError):
            await self._ctx.writer.write(event)

    # -- waiting for the client ----------------------------------------------------------------

    async def _next(self) -> Event | None:
        """The next event; ``None`` when the connection should end quietly."""
        if not self.busy and self._stopping.is_set():
            return None
        if self._read is None:
            self._read = asyncio.create_task(self._reader.read(), name="wyoming-read")
        while True:
            done = await self._wait(self._read)
            if self._speech is not None and self._speech.task.done():
                self._speech.task.result()  # speaking failed: raise it here
            if self._read in done:
                read, self._read = self._read, None
                return read.result()
            if done:
                return None  # the daemon is stopping
            if self._speech is not None and self._speech.speaking:
                continue  # the client is listening to text it already sent, not idle
            if self.busy:
                raise Refusal(
                    f"nothing arrived for {self._ctx.settings.idle_timeout:g} seconds",
                    code="idle_timeout",
                )
            return None  # idle between requests: closed without a word

    async def _wait(self, read: asyncio.Task[Event | None]) -> set[asyncio.Future[Any]]:
        """Until an event, the daemon stopping (when idle), speech failing, or the idle time."""
        waits: set[asyncio.Future[Any]] = {read}
        stop = None
        if not self.busy:
            stop = asyncio.ensure_future(self._stopping.wait())
            waits.add(stop)
        if self._speech is not None:
            waits.add(self._speech.task)
        try:
            done, _ = await asyncio.wait(
                waits, timeout=self._ctx.settings.idle_timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            if stop is not None:
                stop.cancel()
        return done

    # -- events --------------------------------------------------------------------------------

    async def _handle(self, event: Event) -> None:
        kind, data = event.type, event.data
        if Describe.is_type(kind):
            await self._describe()
        elif Ping.is_type(kind):
            text = data.get("text")
            await self._ctx.writer.write(Pong(text=text if isinstance(text, str) else None).event())
        elif Transcribe.is_type(kind):
            self._request = "transcribe"
            self._options = transcribe.CommandOptions.of(data)
        elif AudioStart.is_type(kind):
            self._request = "transcribe"
            if self._audio_open:
                raise Refusal("audio-start while a command's audio is still open", "bad_order")
            await self._open_audio(PcmFormat.of(data))
        elif AudioChunk.is_type(kind):
            if not self._answered:
                self._request = "transcribe"
            await self._audio_chunk(PcmFormat.of(data), event.payload or b"")
        elif AudioStop.is_type(kind):
            await self._audio_stop()
        elif Synthesize.is_type(kind):
            # Inside a stream it repeats the streamed text for older servers: not spoken twice.
            if self._speech is None:
                self._request = "synthesize"
                await speech.speak_once(self._ctx, data)
                self._request = None
        elif SynthesizeStart.is_type(kind):
            if self._speech is not None:
                raise Refusal("synthesize-start while a stream is open", "bad_order")
            self._request = "synthesize_stream"
            self._speech = speech.SpeechStream(self._ctx, data)
        elif SynthesizeChunk.is_type(kind):
            self._open_stream().feed(data)
        elif SynthesizeStop.is_type(kind):
            await self._open_stream().finish()
            self._speech, self._request = None, None
        else:
            log.debug("wyoming.event_ignored", type=kind)

    def _open_stream(self) -> speech.SpeechStream:
        if self._speech is None:
            raise Refusal("synthesize-chunk and -stop need a synthesize-start first", "bad_order")
        return self._speech

    async def _describe(self) -> None:
        self._request = "describe"
        async with self._ctx.runtime.lease() as generation:
            described = await info.describe(generation, self._ctx.settings)
        await self._ctx.writer.write(described.event())
        self._ctx.count("describe", "ok")
        self._request = None

    # -- a spoken command ----------------------------------------------------------------------

    async def _open_audio(self, pcm_format: PcmFormat) -> None:
        self._request = "transcribe"
        self._audio = IncomingAudio(pcm_format, self._ctx.settings.max_audio_seconds)
        self._audio_open, self._answered = True, False
        silence = self._ctx.settings.end_of_speech_silence
        self._watch = await self._voice_watch(pcm_format, silence) if silence else None

    async def _voice_watch(self, pcm_format: PcmFormat, silence: float) -> VoiceWatch | None:
        try:
            async with self._ctx.runtime.lease() as generation:
                routed = await routed_detector(generation)
        except (RoutingError, EngineError) as exc:
            # The client still ends the command with audio-stop, as without end-of-speech.
            log.warning("wyoming.no_voice_detection", error=str(exc))
            return None
        return VoiceWatch(routed.detector, routed.sample_rate, pcm_format.rate, silence)

    async def _audio_chunk(self, pcm_format: PcmFormat, payload: bytes) -> None:
        if not self._audio_open:
            await self._open_audio(pcm_format)  # no audio-start: the chunk says the format
        if self._answered or self._audio is None:
            return
        mono = self._audio.add(pcm_format, payload)
        watch = self._watch
        if watch is None or not mono:
            return
        voice_events = await asyncio.to_thread(watch.push, mono)
        if voice_events:
            await self._ctx.writer.write_all(voice_events)
        if watch.ended:
            await self._answer()

    async def _audio_stop(self) -> None:
        self._request = "transcribe"
        if not self._answered:
            await self._answer()
        self._audio_open, self._answered = False, False
        self._options, self._watch, self._request = transcribe.CommandOptions(), None, None

    async def _answer(self) -> None:
        audio, self._audio = self._audio, None
        self._answered = True
        await transcribe.answer(self._ctx, self._options, audio)
        self._request = None
