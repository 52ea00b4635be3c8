"""The ``STATUS=`` lines ``systemctl status`` shows: what the daemon is doing, in a sentence."""

from __future__ import annotations

from typing import Any

from core.routing.breaker import BreakerState
from core.runtime.readiness import Readiness
from core.runtime.reload_result import ReloadResult
from core.runtime.runtime import Runtime
from core.runtime.slot import EngineState

STARTING = "Starting: loading the configuration and preloading engines"


def running(runtime: Runtime, verdict: Readiness) -> str:
    """``Ready: 2/3 engines loaded; routes llm, tts; generation 4; last reload (sighup) ok``."""
    generation = runtime.current
    if verdict.ready:
        loaded = sum(s.state is EngineState.READY for s in generation.slots.values())
        text = (
            f"Ready: {loaded}/{len(generation.slots)} engines loaded; "
            f"routes {', '.join(verdict.routes)}; generation {generation.number}"
        )
        # Engines a chain is falling back from: the route serves, but someone should look.
        failing = [
            f"{slot.name} ({slot.last_error or 'breaker open'})"
            for slot in generation.slots.values()
            if slot.state is EngineState.FAILED or slot.breaker.state is BreakerState.OPEN
        ]
        if failing:
            text += "; failing: " + ", ".join(failing)
    else:
        text = "Not ready: " + "; ".join(verdict.reasons)
    last = runtime.last_reload
    if last is not None and last.trigger != "start":
        text += "; " + reload_outcome(last)
    return text


def reload_outcome(result: ReloadResult) -> str:
    if result.ok:
        return f"last reload ({result.trigger}) ok"
    return f"last reload ({result.trigger}) FAILED: {first_issue(result.error)}"


def reloading(trigger: str) -> str:
    return f"Reloading ({trigger})"


def stopping(runtime: Runtime | None) -> str:
    try:
        generation = runtime.current if runtime is not None else None
    except RuntimeError:  # stopped before the configuration loaded
        generation = None
    if generation is None:
        return "Stopping"
    drain = generation.config.config.server.drain_timeout
    return f"Stopping: draining {generation.leases} request(s) for up to {drain:g}s"


def start_failed(error: BaseException) -> str:
    lines = [line.strip(" -") for line in str(error).splitlines() if line.strip()]
    return "Failed to start: " + "; ".join(lines[:3])


def first_issue(error: dict[str, Any] | None) -> str:
    issues = (error or {}).get("issues") or []
    if not issues:
        return "unknown error"
    issue = issues[0]
    where = f"{issue['path']}: " if issue.get("path") else ""
    more = f" (+{len(issues) - 1} more)" if len(issues) > 1 else ""
    return f"{where}{issue['message']}{more}"
