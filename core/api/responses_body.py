"""The body of ``POST /v1/responses``, read into the same ``ChatRequest`` chat completions use.

The subset agents and the SDK's ``client.responses.create`` use: instructions, input as text or
as message / function_call / function_call_output items, function tools and tool choice, text
formats (json_object, json_schema), sampling, max_output_tokens, logprobs through ``include``.
Everything that needs server-side state (previous_response_id, conversation, prompt templates,
background runs) or tools run by the server (web search, file search, computer use...) is a 400
naming the field: nothing is silently dropped.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.api.bodies import validation_to_api_error
from core.api.chat_body import MAX_TOP_LOGPROBS, ChatBody, part_without_text, unsupported_part
from core.api.errors import ApiError
from core.engines.llm import ChatMessage, ChatRequest, Role, ToolCall

#: Fields that need what this gateway does not keep or run; refused when set.
_REFUSED = {
    "previous_response_id": "responses are not stored here: send the whole conversation as input",
    "conversation": "conversations are not stored here: send the whole conversation as input",
    "prompt": "stored prompt templates are not available here: send instructions and input",
    "reasoning": "no reasoning model is served here",
    "context_management": "server-side context management is not available here",
}
_TEXT_PARTS = frozenset({"input_text", "output_text", "text"})
_KNOWN_INCLUDES = frozenset({"message.output_text.logprobs", "reasoning.encrypted_content"})
_ROLES: dict[str, Role] = {
    "user": "user",
    "system": "system",
    "developer": "developer",
    "assistant": "assistant",
}


class TextFormat(BaseModel):
    model_config = ConfigDict(extra="allow")
    format: dict[str, Any] | None = None


class ResponsesBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str | None = None
    input: str | list[dict[str, Any]]
    instructions: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    text: TextFormat | None = None
    temperature: float | None = Field(None, ge=0, le=2, allow_inf_nan=False)
    top_p: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)
    max_output_tokens: int | None = Field(None, ge=1)
    stream: bool | None = False
    include: list[str] | None = None
    top_logprobs: int | None = Field(None, ge=0, le=MAX_TOP_LOGPROBS)
    background: bool | None = None
    metadata: dict[str, str] | None = None

    @property
    def streaming(self) -> bool:
        return bool(self.stream)

    def to_request(self) -> ChatRequest:
        extra = self.model_extra or {}
        for name, why in _REFUSED.items():
            if extra.get(name) is not None:
                raise ApiError(400, f"{name}: {why}", param=name, code="unsupported_parameter")
        if self.background:
            raise ApiError(
                400,
                "background responses are not available here",
                param="background",
                code="unsupported_parameter",
            )
        include = self.include or []
        unknown = [item for item in include if item not in _KNOWN_INCLUDES]
        if unknown:
            raise ApiError(
                400,
                f"include {unknown[0]!r} is not available here",
                param="include",
                code="unsupported_parameter",
            )
        logprobs = "message.output_text.logprobs" in include or bool(self.top_logprobs)
        # The chat body does the checking shared with chat completions (tools, tool choice,
        # formats); only the shapes and so the names in its refusals differ.
        checked = {
            "messages": [{"role": "user", "content": "-"}],
            "tools": [_chat_tool(i, tool) for i, tool in enumerate(self.tools or ())],
            "tool_choice": _chat_tool_choice(self.tool_choice),
            "parallel_tool_calls": self.parallel_tool_calls,
            "response_format": _chat_format(self.text),
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_completion_tokens": self.max_output_tokens,
            "logprobs": logprobs,
            "top_logprobs": self.top_logprobs if logprobs else None,
        }
        try:
            chat = ChatBody.model_validate(checked).to_request()
        except ValidationError as exc:
            raise _renamed(validation_to_api_error(exc, checked)) from None
        except ApiError as exc:
            raise _renamed(exc) from None
        # The checked request, with the real input in place of the placeholder message.
        return dataclasses.replace(chat, messages=self._messages(), streamed=self.streaming)

    def _messages(self) -> tuple[ChatMessage, ...]:
        messages: list[ChatMessage] = []
        if self.instructions:
            messages.append(ChatMessage("system", self.instructions))
        if isinstance(self.input, str):
            messages.append(ChatMessage("user", self.input))
        else:
            for index, item in enumerate(self.input):
                _add_item(messages, index, item)
        if not messages or all(m.role in ("system", "developer") for m in messages):
            raise ApiError(400, "input must not be empty", param="input", code="invalid_value")
        return tuple(messages)


def _add_item(messages: list[ChatMessage], index: int, item: dict[str, Any]) -> None:
    where = f"input.{index}"
    kind = item.get("type", "message")
    if kind == "message":
        role = _ROLES.get(str(item.get("role")))
        if role is None:
            raise ApiError(
                400,
                f"unknown role {item.get('role')!r}: use user, system, developer or assistant",
                param=f"{where}.role",
                code="invalid_value",
            )
        messages.append(ChatMessage(role, _text(where, item.get("content"))))
    elif kind == "function_call":
        call = ToolCall(
            str(item.get("call_id") or item.get("id") or ""),
            str(item.get("name") or ""),
            str(item.get("arguments") or ""),
        )
        if not call.id or not call.name:
            raise ApiError(
                400,
                "a function_call item needs call_id and name",
                param=where,
                code="invalid_value",
            )
        last = messages[-1] if messages else None
        if last is not None and last.role == "assistant":
            # Calls made in the same turn (and the turn's text) are one assistant message.
            messages[-1] = ChatMessage(
                "assistant", last.content, tool_calls=(*last.tool_calls, call)
            )
        else:
            messages.append(ChatMessage("assistant", "", tool_calls=(call,)))
    elif kind == "function_call_output":
        call_id = item.get("call_id")
        if not isinstance(call_id, str) or not call_id:
            raise ApiError(
                400,
                "a function_call_output item needs the call_id of its call",
                param=f"{where}.call_id",
                code="invalid_value",
            )
        output = item.get("output")
        text = output if isinstance(output, str) else _text(f"{where}.output", output)
        messages.append(ChatMessage("tool", text, tool_call_id=call_id))
    else:
        raise ApiError(
            400,
            f"input items of type {kind!r} are not supported here (message, function_call and "
            "function_call_output are)",
            param=f"{where}.type",
            code="unsupported_parameter",
        )


def _text(where: str, content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ApiError(400, "content must be text or a list of parts", param=f"{where}.content")
    parts = []
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in _TEXT_PARTS or kind == "refusal":
            field = "refusal" if kind == "refusal" else "text"
            if not isinstance(part.get(field), str):
                raise part_without_text(where, index, kind, field)
            parts.append(part[field])
        else:
            raise unsupported_part(where, index, kind, "the models here read text")
    return "".join(parts)


#: Chat completions' names for what the Responses API calls otherwise.
_RENAMED = (
    ("response_format.json_schema.schema", "text.format.schema"),
    ("response_format.json_schema", "text.format"),
    ("response_format", "text.format"),
    ("max_completion_tokens", "max_output_tokens"),
    (".function.", "."),
)


def _renamed(error: ApiError) -> ApiError:
    param, message = error.param, error.message
    for chat_name, name in _RENAMED:
        if param is not None:
            param = param.replace(chat_name, name)
        # Messages quote the field too ("missing required field 'tools.0.function.name'").
        message = message.replace(chat_name, name)
    return ApiError(error.status, message, param=param, code=error.code, headers=error.headers)


def _chat_tool(index: int, tool: dict[str, Any]) -> dict[str, Any]:
    if tool.get("type") != "function":
        raise ApiError(
            400,
            f"tools of type {tool.get('type')!r} are not available here: only 'function' tools",
            param=f"tools.{index}.type",
            code="unsupported_parameter",
        )
    function = {
        key: tool[key]
        for key in ("name", "description", "parameters", "strict")
        if tool.get(key) is not None
    }
    return {"type": "function", "function": function}


def _chat_tool_choice(choice: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
    if isinstance(choice, dict) and choice.get("type") == "function" and "name" in choice:
        return {"type": "function", "function": {"name": choice["name"]}}
    return choice


def _chat_format(text: TextFormat | None) -> dict[str, Any] | None:
    wanted = text.format if text is not None else None
    if wanted is None or wanted.get("type") in (None, "text"):
        return None
    if wanted.get("type") == "json_schema":
        spec = {key: wanted[key] for key in ("name", "schema", "strict") if key in wanted}
        return {"type": "json_schema", "json_schema": spec}
    return {"type": wanted.get("type")}
