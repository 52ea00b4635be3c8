"""Engine audio (float32 at the engine's rate) as Wyoming events: 16-bit mono PCM.

One answer keeps one format from its first chunk to its last, even when a later sentence comes
from another engine of the chain (a fallback at another rate is resampled): Home Assistant
writes a WAV header from the first ``audio-start`` and appends everything after it.
"""

from __future__ import annotations

from collections.abc import Callable

from wyoming.audio import AudioChunk as WyomingChunk
from wyoming.audio import AudioStart, AudioStop
from wyoming.event import Event

from core.audio.chunk import AudioChunk
from core.audio.resample import resample

#: Samples per audio-chunk event: about 46 ms at 22 kHz, as the Wyoming TTS servers send.
SAMPLES_PER_EVENT = 1024
_WIDTH, _CHANNELS = 2, 1


class SpeechOut:
    """Turns the chunks of one answer into audio events; the rate is fixed by the first.

    ``on_first`` is called when the answer's first audio is about to leave (for the metrics)."""

    def __init__(self, on_first: Callable[[], None] = lambda: None) -> None:
        self.rate: int | None = None
        self.samples = 0
        self._on_first = on_first

    def start(self, rate: int) -> Event:
        if self.rate is None:
            self.rate = rate
            self._on_first()
        return AudioStart(rate=self.rate, width=_WIDTH, channels=_CHANNELS).event()

    def chunks(self, chunk: AudioChunk) -> list[Event]:
        """The events carrying ``chunk`` (after :meth:`start`). Converting a sentence costs well
        under a millisecond (resampling a few), so it stays on the event loop."""
        assert self.rate is not None, "start() comes first"
        samples = chunk.samples
        if chunk.sample_rate != self.rate:
            samples = resample(samples, chunk.sample_rate, self.rate)
        pcm = AudioChunk(samples, self.rate).to_pcm16()
        step = SAMPLES_PER_EVENT * _WIDTH
        events = []
        for offset in range(0, len(pcm), step):
            events.append(
                WyomingChunk(
                    rate=self.rate,
                    width=_WIDTH,
                    channels=_CHANNELS,
                    audio=pcm[offset : offset + step],
                    timestamp=self.samples * 1000 // self.rate,
                ).event()
            )
            self.samples += min(SAMPLES_PER_EVENT, (len(pcm) - offset) // _WIDTH)
        return events

    @property
    def seconds(self) -> float:
        """Audio sent so far."""
        return round(self.samples / self.rate, 2) if self.rate else 0.0

    def stop(self) -> Event:
        timestamp = self.samples * 1000 // self.rate if self.rate else None
        return AudioStop(timestamp=timestamp).event()
