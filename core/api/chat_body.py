"""The body of ``POST /v1/chat/completions``: validated, then turned into a typed ``ChatRequest``.

Every field that changes the reply either reaches the engines or is refused with a 400 naming it;
fields that change nothing here (``user``, ``metadata``, ``store``...) are accepted and passed on
to cloud engines untouched. Spec-valid ``null`` means "the default" for every field.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.api.errors import ApiError
from core.api.grounding import RagBlock
from core.engines.llm import (
    ChatMessage,
    ChatRequest,
    FunctionTool,
    ResponseFormat,
    Role,
    ToolCall,
    ToolChoice,
)

#: The most choices (``n``) one request may ask for: each is a full generation here.
MAX_CHOICES = 8
MAX_TOP_LOGPROBS = 20
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ROLES: tuple[Role, ...] = ("system", "user", "assistant", "tool", "developer")
_MODES: dict[str, Literal["auto", "none", "required"]] = {
    "auto": "auto",
    "none": "none",
    "required": "required",
}
#: Content parts that carry something other than text: no model behind this API sees them.
_UNSEEN_PARTS = {
    "image_url": "images",
    "input_image": "images",
    "input_audio": "audio",
    "file": "files",
    "input_file": "files",
}
#: Fields that would change the reply in ways no engine here can honour: refused, named.
_REFUSED_FIELDS = {
    "functions": "the legacy 'functions' parameter is not supported: send 'tools' instead",
    "function_call": "the legacy 'function_call' parameter is not supported: send 'tool_choice'",
    "audio": "audio output is not supported on chat completions: use /v1/audio/speech",
    "web_search_options": "web search is not available here",
}


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None
    refusal: str | None = None


class FunctionCallIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    arguments: str = ""


class ToolCallIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    type: str = "function"
    function: FunctionCallIn


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    #: Checked by hand for a clear answer to the legacy ``function`` role.
    role: str
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None
    refusal: str | None = None


class FunctionIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    function: FunctionIn | None = None


class JsonSchemaIn(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    name: str | None = None
    description: str | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None


class ResponseFormatIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaIn | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool | None = False


class ChatBody(BaseModel):
    """Known fields are validated; unknown ones are passed on to cloud engines untouched."""

    model_config = ConfigDict(extra="allow")
    model: str | None = None
    messages: list[MessageIn] = Field(min_length=1)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0, le=2, allow_inf_nan=False)
    top_p: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int | None = Field(None, ge=1)
    tools: list[ToolIn] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormatIn | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=MAX_TOP_LOGPROBS)
    modalities: list[str] | None = None
    rag: RagBlock | None = None

    @field_validator("stop")
    @classmethod
    def _stop(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and len(value) > 4:
            raise ValueError("at most 4 stop sequences")
        return value

    @property
    def choices(self) -> int:
        return self.n or 1

    @property
    def streaming(self) -> bool:
        return bool(self.stream)

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)

    def to_request(self) -> ChatRequest:
        """The typed request, or an :class:`ApiError` naming the first field that cannot be
        served."""
        self._refuse_unservable()
        if self.choices > MAX_CHOICES:
            raise ApiError(
                400, f"n must be at most {MAX_CHOICES} here", param="n", code="invalid_value"
            )
        if self.top_logprobs and not self.logprobs:
            raise ApiError(
                400,
                "top_logprobs needs logprobs set to true",
                param="top_logprobs",
                code="invalid_value",
            )
        tools = self._tools()
        stop: tuple[str, ...] = ()
        if isinstance(self.stop, str):
            stop = (self.stop,)
        elif self.stop:
            stop = tuple(self.stop)
        return ChatRequest(
            messages=tuple(_message(index, message) for index, message in enumerate(self.messages)),
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=self.max_completion_tokens or self.max_tokens,
            stop=stop,
            seed=self.seed,
            tools=tools,
            tool_choice=_tool_choice(self.tool_choice, tools),
            parallel_tool_calls=self.parallel_tool_calls is not False,
            response_format=_response_format(self.response_format),
            logprobs=bool(self.logprobs),
            top_logprobs=self.top_logprobs or 0,
            extra={k: v for k, v in (self.model_extra or {}).items() if v is not None},
            streamed=self.streaming,
        )

    def _refuse_unservable(self) -> None:
        extra = self.model_extra or {}
        for name, message in _REFUSED_FIELDS.items():
            if extra.get(name) is not None:
                raise ApiError(400, message, param=name, code="unsupported_parameter")
        if self.modalities is not None and any(m != "text" for m in self.modalities):
            raise ApiError(
                400,
                "only text output is supported on chat completions (modalities: ['text'])",
                param="modalities",
                code="unsupported_parameter",
            )

    def _tools(self) -> tuple[FunctionTool, ...]:
        tools: list[FunctionTool] = []
        for index, tool in enumerate(self.tools or ()):
            where = f"tools.{index}"
            if tool.type != "function" or tool.function is None:
                raise ApiError(
                    400,
                    f"tools of type {tool.type!r} are not supported: only 'function' tools",
                    param=f"{where}.type",
                    code="unsupported_parameter",
                )
            function = tool.function
            if not _FUNCTION_NAME.match(function.name):
                raise ApiError(
                    400,
                    "a function name must be 1-64 letters, digits, '_' or '-'",
                    param=f"{where}.function.name",
                    code="invalid_value",
                )
            if any(t.name == function.name for t in tools):
                raise ApiError(
                    400,
                    f"function {function.name!r} is defined twice",
                    param=f"{where}.function.name",
                    code="invalid_value",
                )
            tools.append(
                FunctionTool(
                    name=function.name,
                    description=function.description,
                    parameters=function.parameters,
                    strict=bool(function.strict),
                )
            )
        return tuple(tools)


def _message(index: int, message: MessageIn) -> ChatMessage:
    where = f"messages.{index}"
    if message.role == "function":
        raise ApiError(
            400,
            "the legacy role 'function' is not supported: send the result as a 'tool' message "
            "with the tool_call_id of the call",
            param=f"{where}.role",
            code="unsupported_parameter",
        )
    if message.role not in _ROLES:
        raise ApiError(
            400,
            f"unknown role {message.role!r}: use one of {', '.join(_ROLES)}",
            param=f"{where}.role",
            code="invalid_value",
        )
    role: Role = message.role
    calls: tuple[ToolCall, ...] = ()
    if message.tool_calls:
        if role != "assistant":
            raise ApiError(
                400,
                "only assistant messages carry tool_calls",
                param=f"{where}.tool_calls",
                code="invalid_value",
            )
        calls = tuple(
            ToolCall(call.id, call.function.name, call.function.arguments)
            for call in message.tool_calls
        )
    if role == "tool" and not message.tool_call_id:
        raise ApiError(
            400,
            "a tool message needs the tool_call_id of the call it answers",
            param=f"{where}.tool_call_id",
            code="invalid_value",
        )
    return ChatMessage(
        role=role,
        content=_text(where, message.content),
        name=message.name,
        tool_calls=calls,
        tool_call_id=message.tool_call_id if role == "tool" else None,
    )


def _text(where: str, content: str | list[ContentPart] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for index, part in enumerate(content):
        if part.type in ("text", "refusal"):
            value = part.text if part.type == "text" else part.refusal
            if value is None:
                raise part_without_text(where, index, part.type, part.type)
            parts.append(value)
        else:
            what = _UNSEEN_PARTS.get(part.type)
            reason = f"the models here cannot see {what}" if what else "it is not text"
            raise unsupported_part(where, index, part.type, reason)
    return "".join(parts)


def unsupported_part(where: str, index: int, kind: object, reason: str) -> ApiError:
    """The 400 for a message's content part of a type the models cannot read."""
    return ApiError(
        400,
        f"content parts of type {kind!r} are not supported: {reason}",
        param=f"{where}.content.{index}.type",
        code="unsupported_content",
    )


def part_without_text(where: str, index: int, kind: str, field: str) -> ApiError:
    """The 400 for a text (or refusal) content part that lacks its text."""
    return ApiError(
        400,
        f"a content part of type {kind!r} needs its {field!r} as a string",
        param=f"{where}.content.{index}.{field}",
        code="invalid_value",
    )


def _tool_choice(value: str | dict[str, Any] | None, tools: tuple[FunctionTool, ...]) -> ToolChoice:
    if value is None:
        return ToolChoice("auto" if tools else "none")
    if isinstance(value, str):
        mode = _MODES.get(value)
        if mode is None:
            raise ApiError(
                400,
                "tool_choice must be 'auto', 'none', 'required' or a named function",
                param="tool_choice",
                code="invalid_value",
            )
        if value == "required" and not tools:
            raise ApiError(
                400,
                "tool_choice 'required' needs tools",
                param="tool_choice",
                code="invalid_value",
            )
        return ToolChoice(mode)
    kind = value.get("type")
    function = value.get("function")
    name = function.get("name") if isinstance(function, dict) else None
    if kind != "function" or not isinstance(name, str):
        raise ApiError(
            400,
            f"tool_choice of type {kind!r} is not supported: use "
            '{"type": "function", "function": {"name": ...}}',
            param="tool_choice",
            code="unsupported_parameter",
        )
    if not any(tool.name == name for tool in tools):
        raise ApiError(
            400,
            f"tool_choice names function {name!r}, which is not among the tools",
            param="tool_choice",
            code="invalid_value",
        )
    return ToolChoice("required", name)


def _response_format(value: ResponseFormatIn | None) -> ResponseFormat | None:
    if value is None or value.type == "text":
        return None
    if value.type == "json_object":
        return ResponseFormat("json_object")
    spec = value.json_schema
    if spec is None:
        raise ApiError(
            400,
            "response_format json_schema needs a json_schema object",
            param="response_format.json_schema",
            code="invalid_value",
        )
    return ResponseFormat(
        "json_schema", schema=spec.schema_, name=spec.name, strict=bool(spec.strict)
    )
