"""Where the speech is in a whole clip, and gluing only those parts together for decoding.

A speech-to-text engine that trims silence decodes the glued audio, then maps the times it finds
back onto the original clip with :class:`SpeechMap`, so clients never see the trimming.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from core.audio.chunk import FloatArray
from core.engines.vad import SpeechDetector
from core.stt_stream.endpointing import Change, Endpointer, EndpointingOptions


@dataclass(frozen=True, slots=True)
class Region:
    """Samples ``[start, end)`` of the clip."""

    start: int
    end: int


def frame_probabilities(samples: FloatArray, detector: SpeechDetector) -> list[float]:
    """One speech probability per ``frame_size`` samples; the last frame is zero-padded."""
    size = detector.frame_size
    count = -(-len(samples) // size)
    padded = np.zeros(count * size, dtype=np.float32)
    padded[: len(samples)] = samples
    frames = padded.reshape(count, size)
    return [detector.probability(frame) for frame in frames]


def speech_regions(
    samples: FloatArray,
    detector: SpeechDetector,
    options: EndpointingOptions,
    sample_rate: int,
) -> list[Region]:
    """Stretches of speech, padded by ``options.speech_pad_ms`` and merged where pads touch.

    ``samples`` must be at the detector's rate. Blocking (about 1-2 ms of CPU per 32 ms frame
    with Silero): call it from a worker thread.
    """
    detector.reset()
    probabilities = frame_probabilities(samples, detector)
    return regions_from_probabilities(
        probabilities, detector.frame_size, options, sample_rate, len(samples)
    )


def regions_from_probabilities(
    probabilities: Iterable[float],
    frame_size: int,
    options: EndpointingOptions,
    sample_rate: int,
    length: int,
) -> list[Region]:
    """The same, from one probability per ``frame_size`` samples computed elsewhere."""
    endpointer = Endpointer(options, frame_size, sample_rate)
    found: list[Region] = []
    for probability in probabilities:
        transition = endpointer.push(float(probability))
        if transition is not None and transition.change is Change.ENDED:
            found.append(Region(transition.start, min(transition.end, length)))
    last = endpointer.finish(length)
    if last is not None and last.change is Change.ENDED:
        found.append(Region(last.start, min(last.end, length)))
    return pad_and_merge(found, options.speech_pad_ms * sample_rate // 1000, length)


def pad_and_merge(regions: Sequence[Region], pad: int, length: int) -> list[Region]:
    merged: list[Region] = []
    for region in regions:
        start, end = max(0, region.start - pad), min(length, region.end + pad)
        if merged and start <= merged[-1].end:
            merged[-1] = Region(merged[-1].start, max(end, merged[-1].end))
        else:
            merged.append(Region(start, end))
    return merged


class SpeechMap:
    """Converts times in the glued speech back to times in the original clip."""

    def __init__(self, regions: Sequence[Region], sample_rate: int) -> None:
        self._rate = sample_rate
        self._glued_starts: list[int] = []
        self._original_starts: list[int] = []
        self._lengths: list[int] = []
        glued = 0
        for region in regions:
            self._glued_starts.append(glued)
            self._original_starts.append(region.start)
            self._lengths.append(region.end - region.start)
            glued += region.end - region.start

    def original_time(self, seconds: float, *, is_end: bool = False) -> float:
        """``seconds`` into the glued audio, as seconds into the original clip.

        A time exactly on the seam between two regions belongs to the earlier region when it
        is an end time, so a word never stretches over the removed silence.
        """
        if not self._glued_starts:
            return seconds
        sample = round(seconds * self._rate)
        if is_end:
            index = bisect.bisect_left(self._glued_starts, sample) - 1
        else:
            index = bisect.bisect_right(self._glued_starts, sample) - 1
        index = max(0, min(index, len(self._glued_starts) - 1))
        offset = min(sample - self._glued_starts[index], self._lengths[index])
        return (self._original_starts[index] + max(offset, 0)) / self._rate


def glue(samples: FloatArray, regions: Sequence[Region]) -> FloatArray:
    """The speech regions of ``samples`` one after another."""
    if not regions:
        return np.zeros(0, dtype=np.float32)
    return np.ascontiguousarray(np.concatenate([samples[r.start : r.end] for r in regions]))
