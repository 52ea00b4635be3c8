"""How far synthesis may run ahead of the client.

A long script can be an hour of audio. The generation thread synthesizes the next segment while
the client still receives the current one, but only ``segments`` ahead: then it waits, so a slow
or stalled client costs neither memory nor model time, and a client that leaves stops the work
(the model is also told to stop mid-segment; see the runtime's cancel check).
"""

from __future__ import annotations

import threading


class Lookahead:
    def __init__(self, segments: int) -> None:
        self._room = threading.Semaphore(segments)
        self.cancelled = threading.Event()

    def reserve(self) -> bool:
        """Producer: wait for room for one more segment; False once the request is cancelled."""
        self._room.acquire()
        return not self.cancelled.is_set()

    def unreserve(self) -> None:
        """Producer: a reserved segment turned out empty; its room goes back."""
        self._room.release()

    def delivered(self) -> None:
        """Consumer: a segment reached the client, so one more may be synthesized."""
        self._room.release()

    def cancel(self) -> None:
        self.cancelled.set()
        self._room.release()  # wakes a producer waiting for room
