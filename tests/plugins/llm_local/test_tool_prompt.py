"""How tools, calls and results are written into the prompt, and how a free reply is recognised
as a call (pure text: no model)."""

from __future__ import annotations

import json

import pytest

from core.engines.llm import ChatMessage, ChatRequest, FunctionTool, ToolCall, ToolChoice
from plugins.llm_local.reply import CallOpening
from plugins.llm_local.tool_prompt import call_text, prompt_messages

WEATHER = FunctionTool(
    "get_weather",
    "Current weather",
    {"type": "object", "properties": {"city": {"type": "string"}}},
)
CALL = ToolCall("call_1", "get_weather", '{"city": "Paris"}')
HISTORY = (
    ChatMessage("system", "Be brief."),
    ChatMessage("user", "Weather in Paris and Rome?"),
    ChatMessage("assistant", "", tool_calls=(CALL, ToolCall("call_2", "get_weather", "{}"))),
    ChatMessage("tool", "22 C", tool_call_id="call_1"),
    ChatMessage("tool", "25 C", tool_call_id="call_2"),
)


def test_a_call_is_written_as_the_model_is_made_to_write_it() -> None:
    text = call_text("get_weather", '{"city": "Paris"}')
    assert (
        text == '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    )
    inner = text.removeprefix("<tool_call>\n").removesuffix("\n</tool_call>")
    assert json.loads(inner) == {"name": "get_weather", "arguments": {"city": "Paris"}}


def test_tools_join_the_system_turn_and_history_uses_plain_roles() -> None:
    messages = prompt_messages(ChatRequest(HISTORY, tools=(WEATHER,)))
    assert [m.role for m in messages] == ["system", "user", "assistant", "user"]
    system = messages[0].content
    assert system.startswith("Be brief.\n\n")
    assert '"name": "get_weather"' in system and "<tools>" in system
    assert messages[2].content == "\n".join(
        [call_text("get_weather", '{"city": "Paris"}'), call_text("get_weather", "{}")]
    )
    # Both results in one user turn, in the order of the calls.
    assert messages[3].content == (
        "<tool_response>\n22 C\n</tool_response>\n<tool_response>\n25 C\n</tool_response>"
    )
    assert all(not m.tool_calls and m.tool_call_id is None for m in messages)


def test_without_usable_tools_nothing_is_listed() -> None:
    for request in (
        ChatRequest(HISTORY),
        ChatRequest(HISTORY, tools=(WEATHER,), tool_choice=ToolChoice("none")),
    ):
        messages = prompt_messages(request)
        assert messages[0] == ChatMessage("system", "Be brief.")
        assert messages[2].content.startswith("<tool_call>")  # history is still shown


def test_tools_without_a_system_turn_get_one() -> None:
    messages = prompt_messages(ChatRequest((ChatMessage("user", "hi"),), tools=(WEATHER,)))
    assert [m.role for m in messages] == ["system", "user"]


@pytest.mark.parametrize(
    ("pieces", "is_call", "shown"),
    [
        (["<tool", "_call>", '{"name"'], True, ""),
        (["  \n<tool_call>"], True, ""),
        (["<to", "day is"], False, "<today is"),
        (["Hello", " <tool_call>"], False, "Hello <tool_call>"),
        (["<tool_"], None, ""),
    ],
)
def test_a_free_reply_opening_with_the_call_tag_is_a_call(
    pieces: list[str], is_call: bool | None, shown: str
) -> None:
    opening = CallOpening()
    text = "".join(opening.feed(piece) for piece in pieces)
    assert opening.is_call is is_call
    assert text == shown
    if is_call is None:  # the reply ended undecided: it was text after all
        assert opening.flush() == "<tool_"
