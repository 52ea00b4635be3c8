"""Voice activity detection engines."""

from __future__ import annotations

from typing import ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from core.engines.base import Capability, Engine


class SpeechDetector(Protocol):
    """Per-stream detector state (models like Silero keep a recurrent state per stream)."""

    #: Samples per frame the detector consumes, at :attr:`VADEngine.sample_rate`.
    frame_size: int

    def probability(self, frame: npt.NDArray[np.float32]) -> float:
        """Speech probability for exactly ``frame_size`` float32 samples. Fast and CPU-bound."""
        ...

    def reset(self) -> None: ...


class VADEngine(Engine):
    capability: ClassVar[Capability] = Capability.VAD
    sample_rate: ClassVar[int] = 16000

    def detector(self) -> SpeechDetector:
        """A fresh detector for one audio stream. The engine must be loaded."""
        raise NotImplementedError
