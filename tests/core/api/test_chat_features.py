"""Tools, n, logprobs and response formats through the chat API with fake engines: what reaches
the engine, the OpenAI shapes that come back, and engines that cannot do a feature being skipped
(the official openai client reads every answer)."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from core.engines.llm import FunctionTool, ResponseFormat, ToolCall, ToolChoice
from tests.support import WriteConfig
from tests.support.daemon import openai_gateway
from tests.support.fake_plugin import CHAT_REQUESTS, PLAIN_THEN_TOOLS

CONFIG = PLAIN_THEN_TOOLS

ADD: Any = {
    "type": "function",
    "function": {
        "name": "add",
        "description": "Add one to n",
        "parameters": {"type": "object", "properties": {"n": {"type": "integer"}}},
        "strict": True,
    },
}
HI: Any = [{"role": "user", "content": "hi"}]


async def test_a_tool_request_skips_an_engine_without_tools(write_config: WriteConfig) -> None:
    async with openai_gateway(write_config(CONFIG)) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="llm", messages=HI, tools=[ADD], tool_choice="required"
        )
        assert raw.headers["x-voxgate-engine"] == "tools"
        assert raw.headers["x-voxgate-fallback"] == "plain=unsupported"
        choice = raw.parse().choices[0]
        assert choice.finish_reason == "tool_calls"
        assert choice.message.content is None
        assert choice.message.refusal is None
        assert choice.message.tool_calls is not None
        (call,) = choice.message.tool_calls
        assert call.type == "function" and call.id == "call_fake1"
        assert (call.function.name, json.loads(call.function.arguments)) == ("add", {"n": 1})
        # The engine got the typed request.
        request = CHAT_REQUESTS["tools"]
        assert request.tools == (
            FunctionTool(
                "add",
                "Add one to n",
                {"type": "object", "properties": {"n": {"type": "integer"}}},
                strict=True,
            ),
        )
        assert request.tool_choice == ToolChoice("required")


async def test_streamed_tool_calls_arrive_in_openai_chunks(write_config: WriteConfig) -> None:
    async with openai_gateway(write_config(CONFIG)) as client:
        stream = await client.chat.completions.create(
            model="llm",
            messages=HI,
            tools=[ADD],
            tool_choice={"type": "function", "function": {"name": "add"}},
            stream=True,
        )
        pieces: list[Any] = []
        finish = []
        async for chunk in stream:
            for choice in chunk.choices:
                pieces.extend(choice.delta.tool_calls or ())
                if choice.finish_reason:
                    finish.append(choice.finish_reason)
        assert finish == ["tool_calls"]
        assert pieces[0].id == "call_fake1" and pieces[0].function.name == "add"
        assert all(p.index == 0 for p in pieces)
        assert all(p.id is None for p in pieces[1:])
        assert "".join(p.function.arguments or "" for p in pieces) == '{"n": 1}'
        assert CHAT_REQUESTS["tools"].tool_choice == ToolChoice("required", "add")


async def test_no_engine_with_tools_is_a_400_naming_the_engine(write_config: WriteConfig) -> None:
    async with openai_gateway(write_config(CONFIG)) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(model="only_plain", messages=HI, tools=[ADD])
        assert caught.value.code == "unsupported_request"
        assert "engine 'plain' cannot do function tools" in caught.value.message
        # With tool_choice none the tools are not used: any engine may answer.
        reply = await client.chat.completions.create(
            model="only_plain", messages=HI, tools=[ADD], tool_choice="none"
        )
        assert reply.choices[0].message.content == "one two three"


async def test_follow_up_turns_reach_the_engine_typed(write_config: WriteConfig) -> None:
    messages: Any = [
        *HI,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "add", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "2"},
    ]
    async with openai_gateway(write_config(CONFIG)) as client:
        reply = await client.chat.completions.create(
            model="llm",
            messages=messages,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True},
            },
        )
        assert reply.choices[0].message.content == "from tools"
    request = CHAT_REQUESTS["tools"]
    assistant, tool = request.messages[1:]
    assert assistant.tool_calls == (ToolCall("c1", "add", "{}"),) and assistant.content == ""
    assert (tool.role, tool.tool_call_id, tool.content) == ("tool", "c1", "2")
    assert request.response_format == ResponseFormat(
        "json_schema", {"type": "object"}, "answer", strict=True
    )


async def test_n_choices_whole_and_streamed(write_config: WriteConfig) -> None:
    async with openai_gateway(write_config(CONFIG)) as client:
        reply = await client.chat.completions.create(model="only_plain", messages=HI, n=3)
        assert [c.index for c in reply.choices] == [0, 1, 2]
        assert {c.message.content for c in reply.choices} == {"one two three"}
        assert reply.usage is not None
        assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (1, 9)
        stream = await client.chat.completions.create(
            model="only_plain",
            messages=HI,
            n=2,
            stream=True,
            stream_options={"include_usage": True},
        )
        texts: dict[int, str] = {0: "", 1: ""}
        finishes: dict[int, str] = {}
        usage = None
        async for chunk in stream:
            usage = chunk.usage or usage
            for choice in chunk.choices:
                texts[choice.index] += choice.delta.content or ""
                if choice.finish_reason:
                    finishes[choice.index] = choice.finish_reason
        assert texts == {0: "one two three", 1: "one two three"}
        assert finishes == {0: "stop", 1: "stop"}
        assert usage is not None and usage.completion_tokens == 6


async def test_logprobs_go_to_an_engine_that_reports_them(write_config: WriteConfig) -> None:
    async with openai_gateway(write_config(CONFIG)) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="llm", messages=HI, logprobs=True, top_logprobs=2
        )
        assert raw.headers["x-voxgate-engine"] == "tools"
        choice = raw.parse().choices[0]
        assert choice.logprobs is not None and choice.logprobs.content == []
        assert CHAT_REQUESTS["tools"].top_logprobs == 2


async def test_logit_bias_no_engine_honours_is_refused(write_config: WriteConfig) -> None:
    async with openai_gateway(write_config(CONFIG)) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(
                model="llm", messages=HI, logit_bias={"9906": -100}
            )
    assert caught.value.code == "unsupported_request"
    assert "engine 'plain' cannot do logit_bias" in caught.value.message
    assert "engine 'tools' cannot do logit_bias" in caught.value.message
