"""The audio of one transcription request: checked, collected, and handed over as float32.

Home Assistant sends 16 kHz, 16-bit, mono PCM. Other rates are resampled by the engine call and
stereo is mixed down as it arrives; sample widths other than 16-bit are refused, as are format
changes in the middle of a stream. Audio is kept as 16-bit PCM (half the memory of float32) and
capped at ``max_seconds``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.audio.chunk import AudioChunk
from core.wyoming.errors import Refusal

MIN_RATE, MAX_RATE = 8000, 48000
_WIDTH = 2


class AudioRefused(Refusal):
    """The audio cannot be taken; ``code`` names why."""


@dataclass(frozen=True, slots=True)
class PcmFormat:
    rate: int
    width: int
    channels: int

    @classmethod
    def of(cls, data: dict[str, Any]) -> PcmFormat:
        """The format an ``audio-start`` or ``audio-chunk`` announces; refused unless usable."""
        values = [data.get(key) for key in ("rate", "width", "channels")]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise AudioRefused(
                "audio events need whole numbers for rate, width and channels", "bad_audio_format"
            )
        rate, width, channels = (int(v) for v in values)  # type: ignore[arg-type]
        if width != _WIDTH or channels not in (1, 2) or not MIN_RATE <= rate <= MAX_RATE:
            raise AudioRefused(
                f"audio must be 16-bit PCM (width 2), mono or stereo, {MIN_RATE}-{MAX_RATE} Hz; "
                f"got rate {rate}, width {width}, channels {channels}",
                "unsupported_audio",
            )
        return cls(rate, width, channels)

    @property
    def frame_bytes(self) -> int:
        return self.width * self.channels


class IncomingAudio:
    """The audio of one command, kept as mono 16-bit PCM at the stream's rate."""

    def __init__(self, pcm_format: PcmFormat, max_seconds: float) -> None:
        self.format = pcm_format
        self._mono = bytearray()
        #: The start of a frame cut off at the end of the last chunk.
        self._carry = b""
        self._max_bytes = int(max_seconds * pcm_format.rate) * _WIDTH
        self._max_seconds = max_seconds

    def add(self, pcm_format: PcmFormat, payload: bytes) -> bytes:
        """Take a chunk; returns its whole frames as mono 16-bit PCM (for voice detection)."""
        if pcm_format != self.format:
            raise AudioRefused(
                "the audio format changed in the middle of the stream", "unsupported_audio"
            )
        data = self._carry + payload if self._carry else payload
        usable = len(data) - len(data) % self.format.frame_bytes
        self._carry = data[usable:]
        mono = self._mix_down(data[:usable])
        if len(self._mono) + len(mono) > self._max_bytes:
            raise AudioRefused(
                f"a transcription takes at most {self._max_seconds:g} seconds of audio",
                "audio_too_long",
            )
        self._mono += mono
        return mono

    def _mix_down(self, pcm: bytes) -> bytes:
        if self.format.channels == 1:
            return pcm
        frames = np.frombuffer(pcm, dtype="<i2").reshape(-1, self.format.channels)
        mixed: bytes = frames.mean(axis=1).round().astype("<i2").tobytes()
        return mixed

    @property
    def seconds(self) -> float:
        return len(self._mono) / _WIDTH / self.format.rate

    @property
    def empty(self) -> bool:
        return not self._mono

    def chunk(self) -> AudioChunk:
        """Everything received, as float32 mono at the stream's rate."""
        samples = np.frombuffer(bytes(self._mono), dtype="<i2").astype(np.float32)
        return AudioChunk(samples / np.float32(32768), self.format.rate)
