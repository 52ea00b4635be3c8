"""The blocking half of the engine: a loaded faster-whisper model and one decode at a time per call.

Imported only when an engine loads (it imports faster-whisper). Everything here runs in worker
threads; CTranslate2 releases the GIL while it computes, so the event loop stays free.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import structlog
from faster_whisper.tokenizer import _LANGUAGE_CODES

from core.audio.chunk import FloatArray
from core.engines.errors import EngineUnavailable
from core.engines.stt import Segment, Word
from core.stt_stream.endpointing import EndpointingOptions
from core.stt_stream.regions import SpeechMap
from plugins.stt_whisper.model_source import ModelSource
from plugins.stt_whisper.request_options import DecodeOptions
from plugins.stt_whisper.settings import WhisperSettings
from plugins.stt_whisper.short_window import WindowedWhisperModel, looks_wrong, padded_for_window
from plugins.stt_whisper.speech_trim import (
    DetectorPool,
    OnnxFinder,
    PysileroFinder,
    RegionFinder,
    trim_silence,
)
from plugins.stt_whisper.vad import SileroDetector, open_silero

log = structlog.get_logger(__name__)
SAMPLE_RATE = 16000
#: Every language code Whisper knows (multilingual models understand all of them); faster-whisper
#: keeps the list under a private name only.
LANGUAGES = frozenset(_LANGUAGE_CODES)


@dataclass(frozen=True, slots=True)
class Placement:
    device: str
    compute_type: str
    threads: int


def available_cpus() -> int:
    getaffinity = getattr(os, "sched_getaffinity", None)
    if getaffinity is not None:
        return len(getaffinity(0)) or 1
    return os.cpu_count() or 1


def place(settings: WhisperSettings) -> Placement:
    """Where the model runs: the device (``auto`` prefers a GPU), its compute type, threads."""
    # Through import_module: ctranslate2 ships no type information.
    ctranslate2: Any = importlib.import_module("ctranslate2")
    gpus = int(ctranslate2.get_cuda_device_count())
    device = settings.device
    if device == "auto":
        device = "cuda" if gpus > 0 else "cpu"
    elif device == "cuda" and gpus == 0:
        raise EngineUnavailable(
            "device is cuda but CTranslate2 finds no CUDA GPU (or was built without CUDA): set "
            "device to auto or cpu"
        )
    compute_type = settings.compute_type or ("float16" if device == "cuda" else "int8")
    return Placement(device, compute_type, settings.resolved_threads(available_cpus()))


class WhisperDecoder:
    """A loaded model. Thread-safe: CTranslate2 queues calls beyond its ``workers``."""

    def __init__(self, source: ModelSource, settings: WhisperSettings) -> None:
        self.source = source
        self.settings = settings
        self.placement = place(settings)
        try:
            self._model = WindowedWhisperModel(
                str(source.folder),
                device=self.placement.device,
                device_index=settings.device_index,
                compute_type=self.placement.compute_type,
                cpu_threads=self.placement.threads,
                num_workers=settings.workers,
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            # CTranslate2's wording for a damaged file, an unsupported compute type or a GPU
            # without enough memory: the engine cannot serve, the daemon keeps running.
            raise EngineUnavailable(
                f"faster-whisper could not load {source.folder} on {self.placement.device} "
                f"({self.placement.compute_type}): {exc}"
            ) from exc
        #: The same model, encoding short windows (made once: a fresh view's first encode is slow).
        self._short_model = self._model.trimming()
        self.multilingual = bool(self._model.model.is_multilingual)
        #: Codes a request may name (an English-only model then refuses all but en).
        self.languages = LANGUAGES
        self._find_speech = _region_finder(settings)

    def warm_up(self) -> None:
        """Decode a second of quiet once, so the first request does not pay for lazy setup."""
        quiet = np.zeros(SAMPLE_RATE, dtype=np.float32)
        segments, _ = self._model.transcribe(quiet, language="en", beam_size=1, vad_filter=False)
        for _ in segments:
            pass
        if self.settings.vad_filter:
            self._find_speech(quiet)

    def segments(self, audio: FloatArray, options: DecodeOptions) -> Iterator[Segment]:
        """Decoded segments in order, each as soon as it is ready. Times refer to ``audio``."""
        samples, times = audio, None
        if options.vad_filter:
            trimmed = trim_silence(audio, SAMPLE_RATE, self._find_speech)
            if not trimmed.regions:
                return  # nothing but silence or noise
            samples, times = trimmed.samples, trimmed.times
        padded = padded_for_window(samples, options.window_seconds)
        if padded is not None:
            first, info = self._transcribe(self._short_model, padded, options, short=True)
            found = list(first)
            reason = looks_wrong(found, self.settings.no_speech_threshold)
            clip_end = len(samples) / SAMPLE_RATE
            if reason is None:
                for index, segment in enumerate(found):
                    yield _convert(segment, index, info.language, times, clip_end)
                return
            log.info("stt.full_window_retry", reason=reason, seconds=round(clip_end, 2))
        decoded, info = self._transcribe(self._model, samples, options, short=False)
        for index, segment in enumerate(decoded):
            yield _convert(segment, index, info.language, times)

    def _transcribe(
        self, model: WindowedWhisperModel, samples: FloatArray, options: DecodeOptions, short: bool
    ) -> tuple[Iterator[Any], Any]:
        # A short window is decoded once, at the first temperature: what fails Whisper's checks
        # there is decoded again with the full window and the whole schedule, not sampled.
        temperatures = list(options.temperatures[:1] if short else options.temperatures)
        decoded, info = model.transcribe(
            samples,
            language=options.language,
            task=options.task,
            beam_size=self.settings.beam_size,
            best_of=self.settings.best_of,
            temperature=temperatures,
            initial_prompt=options.initial_prompt,
            word_timestamps=options.word_timestamps,
            condition_on_previous_text=self.settings.condition_on_previous_text,
            no_speech_threshold=self.settings.no_speech_threshold,
            vad_filter=False,
        )
        return iter(decoded), info


def _region_finder(settings: WhisperSettings) -> RegionFinder:
    options = EndpointingOptions(
        threshold=settings.vad_threshold,
        min_speech_ms=settings.vad_min_speech_ms,
        min_silence_ms=settings.vad_min_silence_ms,
        speech_pad_ms=settings.vad_speech_pad_ms,
    )
    if settings.vad_runtime == "onnxruntime":
        return OnnxFinder(options, SAMPLE_RATE)
    pool = DetectorPool(lambda: SileroDetector(open_silero(None)))
    return PysileroFinder(pool, options, SAMPLE_RATE)


def _convert(
    segment: Any,
    index: int,
    language: str,
    times: SpeechMap | None,
    clip_end: float | None = None,
) -> Segment:
    def at(seconds: float, is_end: bool = False) -> float:
        if clip_end is not None:  # the silence added for a short window holds no words
            seconds = min(seconds, clip_end)
        if times is None:
            return float(seconds)
        return times.original_time(float(seconds), is_end=is_end)

    words = tuple(
        Word(
            start=at(w.start),
            end=at(w.end, is_end=True),
            word=w.word,
            probability=float(w.probability),
        )
        for w in (segment.words or ())
    )
    return Segment(
        id=index,
        start=at(segment.start),
        end=at(segment.end, is_end=True),
        text=segment.text,
        words=words,
        avg_logprob=float(segment.avg_logprob),
        no_speech_prob=float(segment.no_speech_prob),
        temperature=float(segment.temperature) if segment.temperature is not None else None,
        language=language,
        compression_ratio=float(segment.compression_ratio),
    )
