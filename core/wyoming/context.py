"""What every request handler of one connection shares: the runtime, the settings read when the
connection opened, the event writer, and the front door's metrics."""

from __future__ import annotations

import time
from dataclasses import dataclass

from core.config.schema import LimitsConfig, WyomingConfig
from core.runtime.runtime import Runtime
from core.wyoming.errors import Outcome
from core.wyoming.framing import EventWriter

FRONT_DOOR = "wyoming"


@dataclass(frozen=True)
class Context:
    runtime: Runtime
    settings: WyomingConfig
    limits: LimitsConfig
    writer: EventWriter

    def count(self, request: str, outcome: Outcome) -> None:
        self.runtime.metrics.front_door_requests.labels(FRONT_DOOR, request, outcome).inc()

    def first_result(self, request: str, started: float) -> None:
        """The request's first result (a transcript, the first audio) left at this moment."""
        self.runtime.metrics.front_door_latency.labels(FRONT_DOOR, request).observe(
            time.perf_counter() - started
        )
