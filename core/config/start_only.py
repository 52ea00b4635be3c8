"""Settings the daemon reads only when it starts: a reload takes every other change, and says
which of these it could not (they take effect at the next start)."""

from __future__ import annotations

from core.config.schema import AppConfig

#: The HTTP listener is bound, and its connection limits set, once.
_SERVER = (
    "host",
    "port",
    "max_connections",
    "header_timeout",
    "body_timeout",
    "send_timeout",
    "max_header_bytes",
    "keep_alive_timeout",
    "drain_timeout",
)
#: The Wyoming listener opens (and announces itself) once.
_WYOMING = ("enabled", "host", "port", "zeroconf")


def start_only_changes(started: AppConfig, loaded: AppConfig) -> list[str]:
    """The start-only settings ``loaded`` changes from the configuration the daemon started with."""
    changed = [
        f"server.{name}"
        for name in _SERVER
        if getattr(started.server, name) != getattr(loaded.server, name)
    ]
    changed += [
        f"wyoming.{name}"
        for name in _WYOMING
        if getattr(started.wyoming, name) != getattr(loaded.wyoming, name)
    ]
    changed += [
        block for block in ("state", "logging") if getattr(started, block) != getattr(loaded, block)
    ]
    return changed
