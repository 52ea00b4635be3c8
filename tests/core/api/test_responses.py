"""``/v1/responses`` over fake chat engines, read by the official openai client: text and function
calls, whole and streamed, the typed request the engine gets, and refusals naming the field."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from core.engines.llm import ChatMessage, ResponseFormat, ToolCall, ToolChoice
from tests.support import WriteConfig
from tests.support.daemon import openai_gateway
from tests.support.fake_plugin import CHAT_REQUESTS, PLAIN_THEN_TOOLS

CONFIG = PLAIN_THEN_TOOLS

ADD: Any = {
    "type": "function",
    "name": "add",
    "description": "Add one to n",
    "parameters": {"type": "object", "properties": {"n": {"type": "integer"}}},
    "strict": False,
}


async def test_a_text_response(write_config: WriteConfig) -> None:
    async with openai_gateway(write_config(CONFIG)) as client:
        response = await client.responses.create(
            model="gpt-4o-mini", input="hi", instructions="Be brief.", max_output_tokens=20
        )
        assert response.status == "completed"
        assert response.output_text == "one two three"
        assert response.usage is not None and response.usage.output_tokens == 3
        assert response.instructions == "Be brief."
    request = CHAT_REQUESTS["plain"]
    assert request.messages == (ChatMessage("system", "Be brief."), ChatMessage("user", "hi"))
    assert request.max_tokens == 20


async def test_a_streamed_text_response(write_config: WriteConfig) -> None:
    async with openai_gateway(write_config(CONFIG)) as client:
        stream = await client.responses.create(model="gpt-4o-mini", input="hi", stream=True)
        kinds: list[str] = []
        text = ""
        final = None
        async for event in stream:
            kinds.append(event.type)
            if event.type == "response.output_text.delta":
                text += event.delta
            if event.type == "response.completed":
                final = event.response
        assert text == "one two three"
        assert kinds[:4] == [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
        ]
        assert kinds[-4:] == [
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
        assert final is not None and final.output_text == "one two three"


async def test_function_calls_whole_and_streamed(write_config: WriteConfig) -> None:
    async with openai_gateway(write_config(CONFIG)) as client:
        raw = await client.responses.with_raw_response.create(
            model="gpt-4o-mini", input="add", tools=[ADD], tool_choice="required"
        )
        assert raw.headers["x-voxgate-fallback"] == "plain=unsupported"
        (call,) = raw.parse().output
        assert call.type == "function_call"
        assert (call.call_id, call.name, call.arguments) == ("call_fake1", "add", '{"n": 1}')
        stream = await client.responses.create(
            model="gpt-4o-mini",
            input="add",
            tools=[ADD],
            tool_choice={"type": "function", "name": "add"},
            stream=True,
        )
        deltas = []
        done = None
        async for event in stream:
            if event.type == "response.function_call_arguments.delta":
                deltas.append(event.delta)
            if event.type == "response.completed":
                done = event.response
        assert "".join(deltas) == '{"n": 1}'
        assert done is not None and done.output[0].type == "function_call"
        assert CHAT_REQUESTS["tools"].tool_choice == ToolChoice("required", "add")


async def test_a_follow_up_turn_reaches_the_engine_typed(write_config: WriteConfig) -> None:
    items: Any = [
        {"role": "user", "content": [{"type": "input_text", "text": "add"}]},
        {"type": "function_call", "call_id": "c1", "name": "add", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "2"},
    ]
    async with openai_gateway(write_config(CONFIG)) as client:
        response = await client.responses.create(
            model="gpt-4o-mini",
            input=items,
            tools=[ADD],
            text={"format": {"type": "json_schema", "name": "n", "schema": {"type": "object"}}},
        )
        assert response.output[0].type == "function_call"
    request = CHAT_REQUESTS["tools"]
    assert request.messages == (
        ChatMessage("user", "add"),
        ChatMessage("assistant", "", tool_calls=(ToolCall("c1", "add", "{}"),)),
        ChatMessage("tool", "2", tool_call_id="c1"),
    )
    assert request.response_format == ResponseFormat("json_schema", {"type": "object"}, "n")


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"previous_response_id": "resp_1"}, "previous_response_id"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"reasoning": {"effort": "high"}}, "reasoning"),
        ({"background": True}, "background"),
        ({"include": ["file_search_call.results"]}, "include"),
        ({"tools": [{"type": "web_search"}]}, "tools.0.type"),
        ({"tools": [{"type": "function", "name": "a b"}]}, "tools.0.name"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"text": {"format": {"type": "xml"}}}, "text.format.type"),
        ({"input": [{"type": "item_reference", "id": "x"}]}, "input.0.type"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]},
            "input.0.content.0.type",
        ),
        ({"input": [{"type": "function_call_output", "output": "2"}]}, "input.0.call_id"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_text"}]}]},
            "input.0.content.0.text",
        ),
    ],
)
async def test_what_cannot_be_served_is_a_400_naming_it(
    write_config: WriteConfig, fields: dict[str, Any], param: str
) -> None:
    assert (await refusal(write_config, fields)).param == param


async def refusal(write_config: WriteConfig, fields: dict[str, Any]) -> openai.BadRequestError:
    """The 400 for a Responses request with ``fields`` beside a model and a text input."""
    async with openai_gateway(write_config(CONFIG)) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.responses.create(**{"model": "gpt-4o-mini", "input": "hi", **fields})
    return caught.value


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"tools": [{"type": "function"}]}, "tools.0.name"),
        ({"input": ["hi"]}, "input.0"),
    ],
)
async def test_a_malformed_field_is_named_as_the_responses_api_names_it(
    write_config: WriteConfig, fields: dict[str, Any], param: str
) -> None:
    refused = await refusal(write_config, fields)
    assert refused.param == param
    # The message quotes the same name, not chat completions' or pydantic's.
    assert f"'{param}'" in refused.message
