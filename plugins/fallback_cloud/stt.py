"""``openai_stt``: transcription by an OpenAI-compatible server (the audio is sent as a WAV)."""

from __future__ import annotations

import asyncio
import bisect
import io
import json
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import soundfile

from core.audio.chunk import AudioChunk
from core.engines.base import EngineSettings
from core.engines.errors import EngineUpstreamError
from core.engines.stt import Segment, STTEngine, TranscriptionRequest, Word
from plugins.fallback_cloud.cloud_engine import CloudEngine
from plugins.fallback_cloud.settings import TranscriptionSettings


def wav_bytes(audio: AudioChunk) -> bytes:
    """A complete 16-bit WAV file of the audio (servers sniff the upload's format)."""
    buffer = io.BytesIO()
    soundfile.write(buffer, audio.samples, audio.sample_rate, subtype="PCM_16", format="WAV")
    return buffer.getvalue()


class OpenAISTTEngine(CloudEngine, STTEngine):
    Settings: ClassVar[type[EngineSettings]] = TranscriptionSettings
    description: ClassVar[str] = "transcription through any OpenAI-compatible server"
    supports_translation: ClassVar[bool] = True
    default_max_concurrency: ClassVar[int] = 16

    settings: TranscriptionSettings

    def info(self) -> dict[str, Any]:
        return {**super().info(), "response_format": self.settings.response_format}

    def form(self, request: TranscriptionRequest) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "model": self.settings.model,
            "response_format": self.settings.response_format,
        }
        if request.language and request.task == "transcribe":
            fields["language"] = request.language
        if request.prompt:
            fields["prompt"] = request.prompt
        if request.temperature is not None:
            fields["temperature"] = str(request.temperature)
        if self.settings.response_format == "verbose_json":
            granularities = ["segment", "word"] if request.word_timestamps else ["segment"]
            fields["timestamp_granularities[]"] = granularities
        return fields

    async def transcribe(self, request: TranscriptionRequest) -> AsyncIterator[Segment]:
        upload = await asyncio.to_thread(wav_bytes, request.audio)
        path = "audio/translations" if request.task == "translate" else "audio/transcriptions"
        async with self._http.stream(
            path,
            data=self.form(request),
            files={"file": ("audio.wav", upload, "audio/wav")},
        ) as response:
            body = await response.aread()
        try:
            result = _json_object(body)
        except ValueError as exc:
            raise EngineUpstreamError(
                f"{self.name!r}: the server's transcription is not JSON: {exc}"
            ) from None
        for segment in segments_of(result, request.audio.duration):
            yield segment


def _json_object(body: bytes) -> dict[str, Any]:
    value = json.loads(body)
    if not isinstance(value, dict):
        raise ValueError("expected an object")
    return value


def segments_of(result: dict[str, Any], duration: float) -> list[Segment]:
    """Segments from ``verbose_json`` (words attached by time), or one from plain ``json``."""
    language = result.get("language") or None
    words = [
        Word(float(w.get("start", 0.0)), float(w.get("end", 0.0)), str(w.get("word", "")))
        for w in result.get("words") or ()
        if isinstance(w, dict)
    ]
    raw = [s for s in result.get("segments") or () if isinstance(s, dict)]
    if not raw:
        text = str(result.get("text") or "").strip()
        if not text:
            return []
        return [Segment(0, 0.0, duration, text, tuple(words), language=language)]
    starts = [float(item.get("start", 0.0)) for item in raw]
    # Each word belongs to the last segment that starts at or before it.
    owned: list[list[Word]] = [[] for _ in raw]
    for word in words:
        owned[max(bisect.bisect_right(starts, word.start) - 1, 0)].append(word)
    segments = []
    for index, item in enumerate(raw):
        start, end = starts[index], float(item.get("end", 0.0))
        inside = tuple(owned[index])
        segments.append(
            Segment(
                id=int(item.get("id", index)),
                start=start,
                end=end,
                text=str(item.get("text", "")),
                words=inside,
                avg_logprob=_number(item.get("avg_logprob")),
                no_speech_prob=_number(item.get("no_speech_prob")),
                temperature=_number(item.get("temperature")),
                language=language if index == 0 else None,
                compression_ratio=_number(item.get("compression_ratio")),
            )
        )
    return segments


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
