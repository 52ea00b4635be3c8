"""Stop sequences over streamed text.

A stop sequence may arrive split across tokens, so text that could be the start of one is held
back until the next piece shows whether it is; nothing of a stop sequence reaches the client.
"""

from __future__ import annotations

from collections.abc import Iterable


class StopMatcher:
    def __init__(self, stops: Iterable[str]) -> None:
        self._stops = tuple(stop for stop in stops if stop)
        self._held = ""
        #: Set once a stop sequence has been seen; later text must not be fed.
        self.stopped = False

    def feed(self, text: str) -> str:
        """The text that can be sent now (everything before a stop sequence, if one appeared)."""
        buffer = self._held + text
        found = [index for index in (buffer.find(stop) for stop in self._stops) if index >= 0]
        if found:
            self.stopped = True
            self._held = ""
            return buffer[: min(found)]
        hold = max((self._partial(buffer, stop) for stop in self._stops), default=0)
        self._held = buffer[len(buffer) - hold :] if hold else ""
        return buffer[: len(buffer) - hold]

    def flush(self) -> str:
        """What is still held back when the reply ends without completing a stop sequence."""
        held, self._held = self._held, ""
        return held

    @staticmethod
    def _partial(buffer: str, stop: str) -> int:
        """Length of the longest end of ``buffer`` that is a proper start of ``stop``."""
        for size in range(min(len(stop) - 1, len(buffer)), 0, -1):
            if buffer.endswith(stop[:size]):
                return size
        return 0
