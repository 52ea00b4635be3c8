"""Listening to reloads from outside the runtime (the service manager link, for one)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.runtime.reload_result import ReloadResult


class ReloadObserver(Protocol):
    """Told when a reload begins and how it ended, whatever triggered it (file change, SIGHUP,
    the control endpoint). Called on the event loop; must return quickly and never raise."""

    def reload_started(self, trigger: str) -> None: ...

    def reload_finished(self, result: ReloadResult) -> None: ...
