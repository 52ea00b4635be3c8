"""The transcript of one user utterance, made while it is spoken.

The utterance is cut at its pauses: each piece (audio from the last cut to a pause) is
transcribed as soon as the pause begins, with the text before it as the engine's prompt. When
the user stops for good, only the last piece is still being transcribed (usually already begun
during the silence wait), and each finished piece has been reported as a transcript delta.
Pieces are transcribed one after another, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from core.audio.chunk import AudioChunk, FloatArray

log = structlog.get_logger(__name__)

#: Transcribes 16 kHz audio given the text before it; returns the text.
Transcribe = Callable[[AudioChunk, str | None], Awaitable[str]]


class UtteranceText:
    def __init__(
        self, transcribe: Transcribe, rate: int, start: int, on_piece: Callable[[str], None]
    ) -> None:
        self._transcribe = transcribe
        self._rate = rate
        self._on_piece = on_piece
        #: Where the next piece starts (a session sample index).
        self.cut = start
        self._texts: list[str] = []
        self._last: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._pieces = 0
        self.error: Exception | None = None
        #: Seconds of audio sent to the engine.
        self.seconds = 0.0

    @property
    def pieces(self) -> int:
        return self._pieces

    def add_piece(self, audio: FloatArray, end: int) -> None:
        """Transcribe ``audio`` (from :attr:`cut` to ``end``) after the pieces before it."""
        self.cut = end
        if len(audio) == 0:
            return
        self._pieces += 1
        self.seconds += len(audio) / self._rate
        self._last = asyncio.create_task(
            self._piece(AudioChunk(audio, self._rate), self._last), name="realtime-stt-piece"
        )
        self._tasks = [t for t in self._tasks if not t.done()] + [self._last]

    async def _piece(self, audio: AudioChunk, before: asyncio.Task[None] | None) -> None:
        if before is not None:
            await asyncio.shield(before)
        prompt = " ".join(self._texts) or None
        try:
            text = (await self._transcribe(audio, prompt)).strip()
        except Exception as exc:  # reported once the turn is committed; later pieces may work
            log.warning("realtime.transcription_failed", error=str(exc) or type(exc).__name__)
            self.error = exc
            return
        if text:
            self._texts.append(text)
            self._on_piece(text)

    @property
    def done(self) -> bool:
        return self._last is None or self._last.done()

    def known(self) -> str | None:
        """The transcript if every piece is done, else None."""
        return " ".join(self._texts) if self.done else None

    async def text(self) -> str:
        if self._last is not None:
            await asyncio.shield(self._last)
        return " ".join(self._texts)

    async def cancel(self) -> None:
        """Drop pieces not yet transcribed (the buffer was cleared, the session ends)."""
        tasks, self._tasks, self._last = self._tasks, [], None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
