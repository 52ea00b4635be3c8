"""Function tools in a session: the client's tool definitions as the LLM step takes them.

A session keeps its tools as the client sent them (to report them back unchanged); a reply turns
them into :class:`FunctionTool` values and a :class:`ToolChoice`, so the same constrained
decoding and fallback rules as the chat API apply (an engine that cannot call functions is
skipped for a reply that may call one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from core.engines.llm import FunctionTool, ToolChoice
from core.realtime.errors import RealtimeError

#: The names OpenAI accepts for functions (and the chat API here).
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MODES = ("auto", "none", "required")


def check_tools(tools: Sequence[Mapping[str, Any]], param: str) -> None:
    """Refuse definitions no engine could follow, naming the bad one."""
    seen: set[str] = set()
    for index, tool in enumerate(tools):
        where = f"{param}.{index}"
        name = tool.get("name")
        if tool.get("type", "function") != "function" or not isinstance(name, str):
            raise RealtimeError("tools must be functions with a name", param=where)
        if not _NAME.match(name):
            raise RealtimeError(
                "a function name must be 1-64 letters, digits, '_' or '-'", param=f"{where}.name"
            )
        if name in seen:
            raise RealtimeError(f"function {name!r} is defined twice", param=f"{where}.name")
        seen.add(name)
        parameters = tool.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise RealtimeError(
                "parameters must be a JSON Schema object", param=f"{where}.parameters"
            )


def check_tool_choice(choice: str, tools: Sequence[Mapping[str, Any]], param: str) -> None:
    """A choice is ``auto``, ``none``, ``required`` or the name of one of the tools."""
    if choice in _MODES:
        if choice == "required" and not tools:
            raise RealtimeError("tool_choice 'required' needs tools", param=param)
        return
    if not any(tool.get("name") == choice for tool in tools):
        raise RealtimeError(
            f"tool_choice names function {choice!r}, which is not among the tools", param=param
        )


def function_tools(tools: Sequence[Mapping[str, Any]]) -> tuple[FunctionTool, ...]:
    return tuple(
        FunctionTool(
            name=str(tool["name"]),
            description=tool.get("description"),
            parameters=tool.get("parameters"),
            strict=bool(tool.get("strict", False)),
        )
        for tool in tools
    )


def tool_choice(choice: str, tools: Sequence[Mapping[str, Any]]) -> ToolChoice:
    if not tools or choice == "none":
        return ToolChoice("none")
    if choice in ("auto", "required"):
        return ToolChoice("auto" if choice == "auto" else "required")
    return ToolChoice("required", choice)
