"""Whether the daemon can serve, and in words why not.

One verdict for every reader: ``/readyz`` returns it, and the service manager hears ``READY=1``
only when it is true. A route is ready when some engine in its chain may still serve (not
failed, not closed, breaker not open); the daemon is ready when it has routes, every one of them
is ready, and it is not shutting down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.routing.breaker import BreakerState
from core.runtime.slot import EngineSlot, EngineState

if TYPE_CHECKING:
    from core.runtime.runtime import Runtime


@dataclass(frozen=True)
class Readiness:
    ready: bool
    #: Route name -> ready.
    routes: dict[str, bool]
    #: One sentence per problem, for a person (empty when ready).
    reasons: list[str] = field(default_factory=list)


def assess(runtime: Runtime) -> Readiness:
    generation = runtime.current
    config = generation.config
    routes = {cap.value: runtime.route_ready(cap) for cap in config.declared_chains}
    reasons: list[str] = []
    if runtime.closing:
        reasons.append("shutting down")
    if not routes:
        reasons.append("no routes are configured")
    for cap, declared in config.declared_chains.items():
        if routes[cap.value]:
            continue
        chain = config.chains.get(cap, [])
        if not chain:
            what = (
                "no engines are listed"
                if not declared
                else (f"mode {config.mode.value!r} leaves none of {', '.join(declared)}")
            )
            reasons.append(f"{cap.value}: {what}")
            continue
        problems = "; ".join(_engine_problem(generation.slots[name]) for name in chain)
        reasons.append(f"{cap.value}: no engine can serve ({problems})")
    return Readiness(ready=not reasons, routes=routes, reasons=reasons)


def _engine_problem(slot: EngineSlot) -> str:
    if slot.state is EngineState.FAILED:
        return f"{slot.name} failed to load: {slot.last_error}"
    if slot.state is EngineState.CLOSED:
        return f"{slot.name} is closed"
    if slot.breaker.state is BreakerState.OPEN:
        return f"{slot.name} is failing, retried in {slot.breaker.retry_in:.0f}s"
    return f"{slot.name} is {slot.state.value}"
