"""What one configuration reload did: the runtime's answer, and what reload observers hear."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ReloadResult:
    ok: bool
    trigger: str
    at: float
    seconds: float = 0.0
    sha256: str | None = None
    generation: int | None = None
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed_loads: dict[str, str] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    #: Settings changed that the daemon reads only at start (core.config.start_only).
    needs_restart: list[str] = field(default_factory=list)
    skipped: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
