"""How function tools, calls and their results are written into a local model's prompt.

One format for every model, whatever its chat template: the functions are listed as JSON in the
system turn, a call is a JSON object between ``<tool_call>`` tags (the form many open models were
tuned on), and results go back in a user turn between ``<tool_response>`` tags. Only the plain
roles reach the template, so templates that know nothing of tools (or reject roles they were not
trained on) still render the conversation. The engine writes its own calls in exactly this form,
so a follow-up turn shows the model its earlier call the way it made it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from core.engines.llm import ChatMessage, ChatRequest, FunctionTool, ToolCall

CALL_OPEN = "<tool_call>"
CALL_CLOSE = "</tool_call>"
RESULT_OPEN = "<tool_response>"
RESULT_CLOSE = "</tool_response>"
#: What the model writes after the opening tag before the function's name (the engine writes it
#: for the model when a call is forced).
CALL_HEAD = '\n{"name": "'
#: Between the name and the arguments object.
CALL_MIDDLE = '", "arguments": '


def call_text(name: str, arguments: str) -> str:
    """A call as it appears in the prompt (and as the model is made to write it)."""
    return f"{CALL_OPEN}{CALL_HEAD}{name}{CALL_MIDDLE}{arguments or '{}'}}}\n{CALL_CLOSE}"


def tools_instructions(tools: Iterable[FunctionTool]) -> str:
    listed = "\n".join(json.dumps(_tool_json(tool), ensure_ascii=False) for tool in tools)
    return (
        "You can call functions to get information or act. They are described here as JSON "
        f"schemas:\n<tools>\n{listed}\n</tools>\n"
        "To call one, answer with nothing but the call: a JSON object with the function's name "
        f"and its arguments between {CALL_OPEN} and {CALL_CLOSE} tags, like this:\n"
        + call_text("function_name", '{"argument": "value"}')
        + f"\nResults come back between {RESULT_OPEN} tags; then answer the user with them."
    )


def _tool_json(tool: FunctionTool) -> dict[str, object]:
    function: dict[str, object] = {"name": tool.name}
    if tool.description:
        function["description"] = tool.description
    function["parameters"] = dict(tool.parameters or {"type": "object", "properties": {}})
    return {"type": "function", "function": function}


def prompt_messages(request: ChatRequest) -> list[ChatMessage]:
    """The conversation in plain roles, with the tools listed in the system turn when the model
    may call them."""
    messages = _plain(request.messages)
    if not request.uses_tools:
        return messages
    instructions = tools_instructions(request.tools)
    if messages and messages[0].role in ("system", "developer"):
        first = messages[0]
        return [ChatMessage("system", f"{first.content}\n\n{instructions}"), *messages[1:]]
    return [ChatMessage("system", instructions), *messages]


def _plain(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    plain: list[ChatMessage] = []
    results: list[str] = []
    for message in messages:
        if message.role == "tool":
            results.append(f"{RESULT_OPEN}\n{message.content}\n{RESULT_CLOSE}")
            continue
        if results:  # a run of tool results becomes one user turn
            plain.append(ChatMessage("user", "\n".join(results)))
            results = []
        if message.role == "assistant" and message.tool_calls:
            plain.append(ChatMessage("assistant", _with_calls(message.content, message.tool_calls)))
        else:
            plain.append(ChatMessage(message.role, message.content, message.name))
    if results:
        plain.append(ChatMessage("user", "\n".join(results)))
    return plain


def _with_calls(content: str, calls: Sequence[ToolCall]) -> str:
    written = "\n".join(call_text(call.name, call.arguments) for call in calls)
    return f"{content}\n{written}" if content.strip() else written
