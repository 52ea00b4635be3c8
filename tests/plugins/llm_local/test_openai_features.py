"""Tools, structured output, logprobs, n and seeds from llama.cpp, through a real daemon and the
official openai client: SmolLM2 where the words matter, the tiny random model where they do not.
A 135M model picks tools badly, so calls are forced where a test needs one and only their
structure is checked (schema-valid arguments), never the model's judgement."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import openai
import pytest

from tests.plugins.llm_local.served_models import smollm2_and_tiny_config
from tests.support.daemon import serving

WEATHER_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city", "unit"],
    "additionalProperties": False,
}
TIME_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {"timezone": {"type": "string"}, "hours24": {"type": "boolean"}},
    "required": ["timezone"],
}
TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": WEATHER_PARAMETERS,
            "strict": True,
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "Current time in a timezone",
            "parameters": TIME_PARAMETERS,
        },
    },
]
SCHEMAS = {"get_weather": WEATHER_PARAMETERS, "get_time": TIME_PARAMETERS}
QUESTION: Any = [{"role": "user", "content": "What is the weather like in Paris today?"}]
PERSON: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 40},
        "age": {"type": "integer"},
        "hobbies": {"type": "array", "items": {"type": "string", "maxLength": 30}, "maxItems": 3},
    },
    "required": ["name", "age", "hobbies"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def client(tiny_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    folder = tmp_path_factory.mktemp("llm-features")
    with (
        serving(folder, smollm2_and_tiny_config(tiny_gguf, n_ctx=4096)) as url,
        openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0) as api,
    ):
        yield api


def assert_valid_call(name: str, arguments: str) -> None:
    jsonschema.validate(json.loads(arguments), SCHEMAS[name])


def test_a_named_function_is_called_with_schema_valid_arguments(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=QUESTION,
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        temperature=0,
        max_tokens=80,
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None and choice.message.refusal is None
    assert choice.message.tool_calls is not None
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather"
    assert_valid_call("get_weather", call.function.arguments)
    assert completion.usage is not None and completion.usage.completion_tokens > 3


def test_required_streams_one_call_in_openai_chunks(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=QUESTION,
        tools=TOOLS,
        tool_choice="required",
        temperature=0,
        max_tokens=80,
        stream=True,
    )
    pieces: list[Any] = []
    finish = []
    for chunk in stream:
        for choice in chunk.choices:
            pieces.extend(choice.delta.tool_calls or ())
            if choice.finish_reason:
                finish.append(choice.finish_reason)
    assert finish == ["tool_calls"]
    first, *rest = pieces
    assert first.id and first.function.name in SCHEMAS
    assert rest and all(p.index == 0 and p.id is None and p.function.name is None for p in rest)
    arguments = "".join(p.function.arguments or "" for p in pieces)
    assert_valid_call(first.function.name, arguments)


def test_auto_either_answers_or_calls_validly(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o-mini", messages=QUESTION, tools=TOOLS, temperature=0, max_tokens=60
    )
    choice = completion.choices[0]
    if choice.message.tool_calls:
        assert choice.finish_reason == "tool_calls"
        for call in choice.message.tool_calls:
            assert_valid_call(call.function.name, call.function.arguments)
    else:
        assert choice.message.content and "<tool_call>" not in choice.message.content
        assert choice.finish_reason in ("stop", "length")


def test_a_tool_result_turn_is_answered(client: openai.OpenAI) -> None:
    messages: Any = [
        *QUESTION,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "arguments": '{"city": "Paris", "unit": "celsius"}',
                    },
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "22 degrees, sunny"},
    ]
    completion = client.chat.completions.create(
        model="gpt-4o-mini", messages=messages, tools=TOOLS, tool_choice="none", max_tokens=40
    )
    choice = completion.choices[0]
    assert choice.message.content and choice.message.tool_calls is None
    assert choice.finish_reason in ("stop", "length")


@pytest.mark.parametrize("stream", [False, True])
def test_json_schema_strict_output_parses_and_validates(
    client: openai.OpenAI, stream: bool
) -> None:
    fields: Any = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Describe a person: name, age and hobbies."}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "person", "schema": PERSON, "strict": True},
        },
        "temperature": 0,
        "max_tokens": 150,
    }
    if stream:
        text = "".join(
            chunk.choices[0].delta.content or ""
            for chunk in client.chat.completions.create(**fields, stream=True)
            if chunk.choices
        )
    else:
        text = client.chat.completions.create(**fields).choices[0].message.content or ""
    jsonschema.validate(json.loads(text), PERSON)


def test_json_object_output_is_an_object(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Give me a colour and its hex code as JSON."}],
        response_format={"type": "json_object"},
        temperature=0,
        max_tokens=60,
    )
    assert completion.choices[0].finish_reason == "stop"
    assert isinstance(json.loads(completion.choices[0].message.content or ""), dict)


def test_a_strict_schema_the_grammar_cannot_hold_is_a_400(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer", "minimum": 1}},
        "required": ["n"],
        "additionalProperties": False,
    }
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="smollm2",
            messages=[{"role": "user", "content": "A number"}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "n", "schema": schema, "strict": True},
            },
        )
    assert caught.value.code == "unsupported_request"
    assert "cannot enforce minimum" in caught.value.message


def test_logprobs_describe_each_token(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="tiny",
        messages=[{"role": "user", "content": "Go"}],
        temperature=0,
        max_tokens=12,
        logprobs=True,
        top_logprobs=3,
        extra_body={"repeat_penalty": 1.0},  # greedy on the model's own probabilities
    )
    choice = completion.choices[0]
    assert choice.logprobs is not None and choice.logprobs.content is not None
    tokens = choice.logprobs.content
    assert completion.usage is not None and len(tokens) == completion.usage.completion_tokens
    assert "".join(t.token for t in tokens) == choice.message.content
    for token in tokens:
        assert token.logprob <= 0
        assert bytes(token.bytes or []).decode() == token.token
        assert len(token.top_logprobs) == 3
        best = [top.logprob for top in token.top_logprobs]
        assert best == sorted(best, reverse=True)
        # Greedy: the token picked is the likeliest one.
        assert token.top_logprobs[0].token == token.token


def test_n_choices_and_seeds(client: openai.OpenAI) -> None:
    def ask(**fields: Any) -> list[str]:
        completion = client.chat.completions.create(
            **{
                "model": "tiny",
                "messages": [{"role": "user", "content": "Go"}],
                "temperature": 1.0,
                "top_p": 1.0,
                "max_tokens": 16,
                **fields,
            }
        )
        return [choice.message.content or "" for choice in completion.choices]

    first = ask(n=2, seed=7)
    assert len(first) == 2 and first[0] != first[1]
    assert ask(n=2, seed=7) == first  # the same seed, the same choices
    assert ask(seed=8) != first[:1]
    # top_p 0 is valid: only the likeliest token survives, as with temperature 0.
    assert ask(top_p=0, seed=1) == ask(top_p=0, seed=2)
