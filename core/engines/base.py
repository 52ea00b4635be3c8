"""The engine contract shared by every capability.

An engine class is cheap to construct (it only keeps its validated settings); heavy libraries are
imported and models loaded in :meth:`Engine.load`. Blocking work must run off the event loop.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from core.engines.services import Services

Location = Literal["local", "cloud"]


class Capability(enum.StrEnum):
    """What an engine does; also the name of the route that serves it."""

    STT = "stt"
    TTS = "tts"
    LLM = "llm"
    EMBEDDINGS = "embeddings"
    RAG = "rag"
    VAD = "vad"
    SEARCH = "search"


class EngineSettings(BaseModel):
    """Base for each engine's own settings block; unknown keys are configuration errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoSettings(EngineSettings):
    """For engines that take no settings."""


@dataclass(frozen=True)
class EngineContext:
    """What the runtime hands an engine at construction: its name, directories and services."""

    name: str
    data_dir: Path
    models_dir: Path
    services: Services
    #: Called by worker-backed engines when their process crashes or restarts; the runtime
    #: counts these events for /metrics (``voxgate_engine_events``).
    on_event: Callable[[str, dict[str, Any]], None] = field(default=lambda _e, _kw: None)


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str = ""


class Engine:
    """Base of every engine. Subclass one of the capability bases, not this directly."""

    capability: ClassVar[Capability]
    #: Where the engine computes: ``mode: local`` keeps local engines, ``mode: api`` cloud ones.
    location: ClassVar[Location] = "local"
    #: The pydantic model that validates this engine's ``settings:`` block.
    Settings: ClassVar[type[EngineSettings]] = NoSettings
    #: Default concurrency when the policy does not set one (e.g. 1 for non-reentrant models).
    default_max_concurrency: ClassVar[int] = 4
    #: One line shown by ``voxgate plugins``.
    description: ClassVar[str] = ""

    @classmethod
    def location_for(cls, settings: EngineSettings) -> Location:
        """Where an engine with these settings computes; by default the class's ``location``.
        Engines whose settings point at a server (a URL) may say ``local`` for loopback ones."""
        return cls.location

    def __init__(self, settings: EngineSettings, context: EngineContext) -> None:
        self.settings = settings
        self.context = context

    @property
    def name(self) -> str:
        return self.context.name

    async def load(self) -> None:
        """Import heavy libraries and load models. Called once before first use, off no lock."""

    async def close(self) -> None:
        """Release models, threads, processes and memory. The engine may be loaded again later."""

    async def health(self) -> Health:
        """A cheap probe of a loaded engine, shown by ``GET /control/status``; the default says
        a loaded engine is healthy."""
        return Health(ok=True)

    def info(self) -> dict[str, Any]:
        """Extra facts for status pages (model path, device, ...). Must not contain secrets."""
        return {}


AsyncFactory = Callable[[], Awaitable[None]]
