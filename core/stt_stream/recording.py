"""The recent audio of a stream, kept while it may still be needed (realtime sessions and
streamed transcription cut utterances from it)."""

from __future__ import annotations

import numpy as np

from core.audio.chunk import FloatArray

_EMPTY = np.zeros(0, dtype=np.float32)


class Recording:
    """Recent audio frames, addressed by sample index from the start of the stream; a span is cut
    from only the frames that overlap it."""

    def __init__(self) -> None:
        self._frames: list[FloatArray] = []
        self.start = 0
        self.end = 0

    def append(self, frame: FloatArray) -> None:
        self._frames.append(frame)
        self.end += len(frame)

    def forget_before(self, sample: int) -> None:
        while self._frames and self.start + len(self._frames[0]) <= sample:
            self.start += len(self._frames.pop(0))

    def between(self, start: int, end: int) -> FloatArray:
        start, end = max(start, self.start), min(end, self.end)
        if end <= start or not self._frames:
            return _EMPTY
        # Only the frames that overlap the span are joined.
        picked: list[FloatArray] = []
        first = position = self.start
        for frame in self._frames:
            frame_end = position + len(frame)
            if position >= end:
                break
            if frame_end <= start:
                first = frame_end
            else:
                picked.append(frame)
            position = frame_end
        joined = np.concatenate(picked) if len(picked) > 1 else picked[0]
        return joined[start - first : end - first].copy()
