"""The bookkeeping of one user turn, and the generation lease it holds.

A turn leases the configuration generation that is current when its speech is confirmed, and
every engine call of the turn (its transcript pieces, the reply made for it) goes through that
generation: a reload swaps engines between turns, never in the middle of one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from core.realtime.response import Response
from core.realtime.utterance import UtteranceText
from core.runtime.generation import Generation


class Lease:
    """A shared hold on a generation: released once every holder has let go."""

    def __init__(self, generation: Generation) -> None:
        self.generation = generation
        generation.acquire()
        self._holders = 1

    def share(self) -> Lease:
        if self._holders == 0:
            raise RuntimeError("the lease was already released")
        self._holders += 1
        return self

    def release(self) -> None:
        if self._holders == 0:
            return
        self._holders -= 1
        if self._holders == 0:
            self.generation.release()


@dataclass
class Turn:
    item_id: str
    #: Session sample indexes: where speech was detected, and where the turn's audio starts
    #: (``prefix_padding_ms`` earlier).
    speech_start: int
    audio_start: int
    text: UtteranceText
    lease: Lease
    #: None while it is not known whether this is the assistant's own echo.
    echo: bool | None = False
    echo_checked_at: int = 0
    #: Where the current pause began (None while the user speaks).
    pause_start: int | None = None
    #: The pause at which the last transcript piece was cut.
    cut_pause: int | None = None
    speculation: Response | None = None
    speculation_version: int = -1
    deltas: int = 0
    #: perf_counter() times for the latency log.
    pause_seen: float | None = None
    transcript_ready: float | None = None
    confirmed: float | None = None
    started: float = field(default_factory=time.perf_counter)
