"""``openai_chat``: chat completions from an OpenAI-compatible server, streamed token by token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar, Literal

from core.engines.base import EngineContext, EngineSettings, Location
from core.engines.errors import EngineUpstreamError
from core.engines.llm import ChatDelta, ChatRequest, LLMEngine, Usage
from plugins.fallback_cloud.errors import in_band_error
from plugins.fallback_cloud.http_client import CloudClient
from plugins.fallback_cloud.info import cloud_info
from plugins.fallback_cloud.settings import ChatSettings
from plugins.fallback_cloud.sse import JsonEvents

#: Fields the engine sets itself; a client's copy of them is not passed on.
_OWN_FIELDS = frozenset({"model", "messages", "stream", "stream_options", "n"})
_FINISH: dict[str, Literal["stop", "length"]] = {"length": "length"}


class OpenAIChatEngine(LLMEngine):
    Settings: ClassVar[type[EngineSettings]] = ChatSettings
    location: ClassVar[Location] = "cloud"
    description: ClassVar[str] = "chat through any OpenAI-compatible server (streamed)"
    default_max_concurrency: ClassVar[int] = 32

    settings: ChatSettings

    def __init__(self, settings: EngineSettings, context: EngineContext) -> None:
        super().__init__(settings, context)
        self._http = CloudClient(context.name, self.settings)

    async def load(self) -> None:
        self._http.open()

    async def close(self) -> None:
        await self._http.close()

    def model_id(self) -> str:
        return self.settings.model

    def info(self) -> dict[str, Any]:
        return cloud_info(self.settings)

    def payload(self, request: ChatRequest) -> dict[str, Any]:
        settings = self.settings
        body: dict[str, Any] = {k: v for k, v in request.extra.items() if k not in _OWN_FIELDS}
        body["model"] = settings.model
        body["messages"] = [
            {"role": m.role, "content": m.content, **({"name": m.name} if m.name else {})}
            for m in request.messages
        ]
        body["stream"] = True
        if settings.stream_usage:
            body["stream_options"] = {"include_usage": True}
        optional = {
            "temperature": request.temperature,
            "top_p": request.top_p,
            settings.max_tokens_field: request.max_tokens,
            "stop": list(request.stop) or None,
            "seed": request.seed,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return body

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        finish: Literal["stop", "length"] | None = None
        usage: Usage | None = None
        async with self._http.stream("chat/completions", json=self.payload(request)) as response:
            events = JsonEvents(response, self.name)
            async for event in events:
                if "error" in event:
                    # Servers (voxgate among them) report a failure after the stream began
                    # in-band; passing it on keeps a cut reply from looking complete.
                    raise in_band_error(self.name, event, self.settings.model, "chat/completions")
                usage = _usage(event.get("usage")) or usage
                for choice in event.get("choices") or ():
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        yield ChatDelta(text=text)
                    reason = choice.get("finish_reason")
                    if reason:
                        finish = _FINISH.get(reason, "stop")
        if not events.done and finish is None:
            raise EngineUpstreamError(f"{self.name!r}: the reply stream ended before it finished")
        yield ChatDelta(finish_reason=finish or "stop", usage=usage)


def _usage(value: Any) -> Usage | None:
    if not isinstance(value, dict):
        return None
    try:
        return Usage(int(value.get("prompt_tokens") or 0), int(value.get("completion_tokens") or 0))
    except (TypeError, ValueError):
        return None
