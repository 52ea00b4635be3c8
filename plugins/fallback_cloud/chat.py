"""``openai_chat``: chat completions from an OpenAI-compatible server, streamed token by token.

Tools, tool choice, response formats and log-probabilities are passed through as OpenAI spells
them, and the server's tool-call and log-probability pieces come back as typed deltas.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from core.engines.base import EngineSettings
from core.engines.errors import EngineUpstreamError
from core.engines.llm import (
    ChatDelta,
    ChatMessage,
    ChatRequest,
    FinishReason,
    LLMEngine,
    ResponseFormat,
    TokenLogprob,
    ToolCallDelta,
    TopLogprob,
    Usage,
)
from plugins.fallback_cloud.cloud_engine import CloudEngine
from plugins.fallback_cloud.errors import in_band_error
from plugins.fallback_cloud.settings import ChatSettings
from plugins.fallback_cloud.sse import JsonEvents

#: Fields the engine sets itself; a client's copy of them is not passed on.
_OWN_FIELDS = frozenset({"model", "messages", "stream", "stream_options", "n"})
_FINISH: dict[str, FinishReason] = {"length": "length", "tool_calls": "tool_calls"}


class OpenAIChatEngine(CloudEngine, LLMEngine):
    Settings: ClassVar[type[EngineSettings]] = ChatSettings
    description: ClassVar[str] = "chat through any OpenAI-compatible server (streamed)"
    default_max_concurrency: ClassVar[int] = 32
    # The server decides; the request goes to it as the client sent it.
    supports_tools: ClassVar[bool] = True
    supports_response_format: ClassVar[bool] = True
    supports_logprobs: ClassVar[bool] = True
    supports_logit_bias: ClassVar[bool] = True

    settings: ChatSettings

    def model_id(self) -> str:
        return self.settings.model

    def payload(self, request: ChatRequest) -> dict[str, Any]:
        settings = self.settings
        body: dict[str, Any] = {k: v for k, v in request.extra.items() if k not in _OWN_FIELDS}
        body["model"] = settings.model
        body["messages"] = [_message_json(m) for m in request.messages]
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
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        **({"description": tool.description} if tool.description else {}),
                        **({"parameters": dict(tool.parameters)} if tool.parameters else {}),
                        **({"strict": True} if tool.strict else {}),
                    },
                }
                for tool in request.tools
            ]
            choice = request.tool_choice
            body["tool_choice"] = (
                {"type": "function", "function": {"name": choice.function}}
                if choice.function
                else choice.mode
            )
            if not request.parallel_tool_calls:
                body["parallel_tool_calls"] = False
        if request.response_format is not None:
            body["response_format"] = _format_json(request.response_format)
        if request.logprobs:
            body["logprobs"] = True
            if request.top_logprobs:
                body["top_logprobs"] = request.top_logprobs
        return body

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        finish: FinishReason | None = None
        usage: Usage | None = None
        async with self._http.stream("chat/completions", json=self.payload(request)) as response:
            events = JsonEvents(response, self.name)
            # For a caller that answers only once the reply is whole, the events that arrived
            # together become one delta: one step instead of many through the router above.
            # A streaming caller gets each event as the server sent it.
            async for batch in events.batches() if not request.streamed else events.singles():
                texts: list[str] = []
                calls: list[ToolCallDelta] = []
                logprobs: list[TokenLogprob] = []
                for event in batch:
                    if "error" in event:
                        # Servers (voxgate among them) report a failure after the stream began
                        # in-band; passing it on keeps a cut reply from looking complete.
                        raise in_band_error(
                            self.name, event, self.settings.model, "chat/completions"
                        )
                    usage = _usage(event.get("usage")) or usage
                    for choice in event.get("choices") or ():
                        delta = choice.get("delta") or {}
                        text = delta.get("content")
                        if text:
                            texts.append(text)
                        calls.extend(_tool_call_deltas(delta.get("tool_calls")))
                        logprobs.extend(_logprobs(choice.get("logprobs")))
                        reason = choice.get("finish_reason")
                        if reason:
                            finish = _FINISH.get(reason, "stop")
                if texts or calls or logprobs:
                    yield ChatDelta(
                        text="".join(texts),
                        tool_calls=_joined(calls),
                        logprobs=tuple(logprobs),
                    )
        if not events.done and finish is None:
            raise EngineUpstreamError(f"{self.name!r}: the reply stream ended before it finished")
        yield ChatDelta(finish_reason=finish or "stop", usage=usage)


def _joined(pieces: list[ToolCallDelta]) -> tuple[ToolCallDelta, ...]:
    """Consecutive argument pieces of the same call as one piece."""
    joined: list[ToolCallDelta] = []
    for piece in pieces:
        last = joined[-1] if joined else None
        if last is not None and last.index == piece.index and piece.id is None and not piece.name:
            joined[-1] = dataclasses.replace(last, arguments=last.arguments + piece.arguments)
        else:
            joined.append(piece)
    return tuple(joined)


def _usage(value: Any) -> Usage | None:
    if not isinstance(value, dict):
        return None
    try:
        return Usage(int(value.get("prompt_tokens") or 0), int(value.get("completion_tokens") or 0))
    except (TypeError, ValueError):
        return None


def _message_json(message: ChatMessage) -> dict[str, Any]:
    entry: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.name:
        entry["name"] = message.name
    if message.tool_calls:
        entry["content"] = message.content or None
        entry["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in message.tool_calls
        ]
    if message.tool_call_id is not None:
        entry["tool_call_id"] = message.tool_call_id
    return entry


def _format_json(wanted: ResponseFormat) -> dict[str, Any]:
    if wanted.type == "json_object":
        return {"type": "json_object"}
    spec: dict[str, Any] = {"name": wanted.name or "response"}
    if wanted.schema is not None:
        spec["schema"] = dict(wanted.schema)
    if wanted.strict:
        spec["strict"] = True
    return {"type": "json_schema", "json_schema": spec}


def _tool_call_deltas(value: Any) -> tuple[ToolCallDelta, ...]:
    if not isinstance(value, list):
        return ()
    pieces = []
    for item in value:
        if not isinstance(item, dict):
            continue
        function = item.get("function") or {}
        pieces.append(
            ToolCallDelta(
                index=int(item.get("index") or 0),
                id=item.get("id"),
                name=function.get("name"),
                arguments=function.get("arguments") or "",
            )
        )
    return tuple(pieces)


def _logprobs(value: Any) -> tuple[TokenLogprob, ...]:
    content = value.get("content") if isinstance(value, dict) else None
    if not isinstance(content, list):
        return ()
    return tuple(
        TokenLogprob(
            token=str(entry.get("token", "")),
            logprob=float(entry.get("logprob", 0.0)),
            bytes=tuple(entry.get("bytes") or ()),
            top=tuple(
                TopLogprob(
                    str(t.get("token", "")),
                    float(t.get("logprob", 0.0)),
                    tuple(t.get("bytes") or ()),
                )
                for t in entry.get("top_logprobs") or ()
                if isinstance(t, dict)
            ),
        )
        for entry in content
        if isinstance(entry, dict)
    )
