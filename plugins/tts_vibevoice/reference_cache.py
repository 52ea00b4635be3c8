"""Speaker reference clips, prepared once and kept in a bounded LRU.

Preparing a clip (decode an MP3 or FLAC, mix to mono, resample to the model's rate, trim
silence, cut it at a pause near the length limit, level it) costs far more than the lookup, and
the same few speakers come back request after request. The key says which version of the clip
it is (a file's path, size and modification time; a stored voice's id and audio checksum), so
an edited file is prepared again instead of served stale.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path

from core.audio.chunk import AudioChunk, FloatArray
from core.audio.decode import decode_audio
from core.cloned_voices.normalize import normalize_reference


class ReferenceCache:
    def __init__(self, capacity: int, *, sample_rate: int, max_seconds: float) -> None:
        self.capacity = capacity
        self.sample_rate = sample_rate
        self.max_seconds = max_seconds
        self.hits = 0
        self.misses = 0
        self._clips: OrderedDict[Hashable, FloatArray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._clips)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._clips

    def get(self, key: Hashable, load: Callable[[], AudioChunk]) -> FloatArray:
        """The prepared clip for ``key``; ``load`` gives the raw audio on a miss.

        Raises what ``load`` raises, and ReferenceAudioError for silent or too short clips.
        """
        with self._lock:
            clip = self._clips.get(key)
            if clip is not None:
                self._clips.move_to_end(key)
                self.hits += 1
                return clip
        # Prepared outside the lock: two requests for one new clip may both prepare it.
        prepared = self.prepare(load())
        with self._lock:
            self.misses += 1
            self._clips[key] = prepared
            self._clips.move_to_end(key)
            while len(self._clips) > self.capacity:
                self._clips.popitem(last=False)
        return prepared

    def prepare(self, audio: AudioChunk) -> FloatArray:
        clip = normalize_reference(audio, rate=self.sample_rate, max_seconds=self.max_seconds)
        return clip.samples

    def clear(self) -> None:
        with self._lock:
            self._clips.clear()

    def stats(self) -> dict[str, int]:
        return {
            "clips": len(self._clips),
            "capacity": self.capacity,
            "hits": self.hits,
            "misses": self.misses,
        }


def file_key(path: Path) -> tuple[str, str, int, int]:
    """Changes whenever the file is replaced or rewritten."""
    stat = path.stat()
    return ("file", str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def read_file(path: Path) -> AudioChunk:
    return decode_audio(path.read_bytes())
