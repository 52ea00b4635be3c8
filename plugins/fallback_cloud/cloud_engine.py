"""What the four OpenAI-compatible engines share: one pooled client for their server (opened on
load, closed on close) and status facts that say where it points, never the key."""

from __future__ import annotations

from typing import Any, ClassVar

from core.engines.base import Engine, EngineContext, EngineSettings, Location
from plugins.fallback_cloud.http_client import CloudClient, shown_url
from plugins.fallback_cloud.settings import CloudSettings


class CloudEngine(Engine):
    """Put first among an engine's bases: ``class X(CloudEngine, LLMEngine)``."""

    location: ClassVar[Location] = "cloud"

    settings: CloudSettings

    def __init__(self, settings: EngineSettings, context: EngineContext) -> None:
        super().__init__(settings, context)
        self._http = CloudClient(context.name, self.settings)

    async def load(self) -> None:
        self._http.open()

    async def close(self) -> None:
        await self._http.close()

    def info(self) -> dict[str, Any]:
        return {
            "base_url": shown_url(self.settings.base_url),
            "model": self.settings.model,
            "api_key_env": self.settings.api_key_env,
        }
