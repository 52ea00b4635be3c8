"""Function tools in a realtime session, through the real daemon and the local language model
(its calls are decoded under a grammar from the function's schema): the reply calls the
function, the client answers with a function_call_output item, and the next reply speaks.
Every event is checked against the openai package's event types as it arrives."""

from __future__ import annotations

import json
from typing import Any

from tests.core.api.realtime.conftest import Daemon
from tests.support.realtime import Session, connect

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The current weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
}
TIME = {
    "type": "function",
    "name": "get_time",
    "description": "The time now in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


async def ask(session: Session, text: str, *, added: str = "conversation.item.added") -> None:
    await session.say(text)
    await session.next(added)


def calls_in(response: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in response["output"] if item["type"] == "function_call"]


async def test_a_reply_calls_the_function_and_speaks_from_its_output(daemon: Daemon) -> None:
    async with connect(daemon.url) as session:
        await session.next("session.created")
        await session.update(
            {
                "tools": [WEATHER, TIME],
                "tool_choice": "required",
                "audio": {"input": {"turn_detection": None}},
            }
        )
        updated = (await session.next("session.updated"))["session"]
        assert [t["name"] for t in updated["tools"]] == ["get_weather", "get_time"]
        assert updated["tool_choice"] == "required"
        await ask(session, "What is the weather like in Paris right now?")
        await session.send({"type": "response.create"})
        first = (await session.next("response.done", timeout=90))["response"]
        assert first["status"] == "completed", first
        calls = calls_in(first)
        assert len(calls) >= 1
        call = calls[0]
        assert call["name"] in ("get_weather", "get_time")
        arguments = json.loads(call["arguments"])  # whole JSON, valid for the schema
        assert isinstance(arguments, dict)
        if call["name"] == "get_weather":
            assert set(arguments) == {"city"} and isinstance(arguments["city"], str)
        done = session.of("response.function_call_arguments.done", call_id=call["call_id"])
        assert len(done) == 1 and done[0]["arguments"] == call["arguments"]
        assert done[0]["item_id"] == call["id"]
        deltas = session.of("response.function_call_arguments.delta", call_id=call["call_id"])
        assert "".join(d["delta"] for d in deltas) == call["arguments"]
        # The call is a conversation item of its own.
        added = session.of("conversation.item.added")
        assert any(e["item"]["id"] == call["id"] for e in added)
        assert not session.of("response.output_audio.delta", response_id=first["id"])

        # The client runs the function and asks again, this time for words.
        for one in calls:
            await session.send(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "function_call_output",
                        "call_id": one["call_id"],
                        "output": json.dumps({"city": "Paris", "sky": "sunny", "celsius": 21}),
                    },
                }
            )
            await session.next("conversation.item.added")
        await session.send({"type": "response.create", "response": {"tool_choice": "none"}})
        second = (await session.next("response.done", timeout=90))["response"]
        assert second["status"] in ("completed", "incomplete"), second
        assert not calls_in(second)
        message = second["output"][0]
        assert message["type"] == "message" and message["role"] == "assistant"
        assert message["content"][0]["transcript"].strip()
        assert session.audio_of(second["id"])


async def test_beta_sessions_call_a_named_function(daemon: Daemon) -> None:
    async with connect(daemon.url, beta=True) as session:
        await session.next("session.created")
        await session.send(
            {
                "type": "session.update",
                "session": {
                    "modalities": ["text"],
                    "turn_detection": None,
                    "tools": [WEATHER, TIME],
                    "tool_choice": {"type": "function", "name": "get_time"},
                },
            }
        )
        updated = (await session.next("session.updated"))["session"]
        assert updated["tool_choice"] == "get_time"
        await ask(session, "What time is it in Tokyo?", added="conversation.item.created")
        await session.send({"type": "response.create"})
        response = (await session.next("response.done", timeout=90))["response"]
        assert response["status"] == "completed", response
        calls = calls_in(response)
        assert [c["name"] for c in calls] == ["get_time"]
        assert isinstance(json.loads(calls[0]["arguments"]), dict)
        assert session.of("response.function_call_arguments.done")


async def test_bad_tools_get_an_error_and_the_session_goes_on(daemon: Daemon) -> None:
    async with connect(daemon.url) as session:
        await session.next("session.created")
        bad: list[tuple[dict[str, Any], str]] = [
            ({"tools": [WEATHER], "tool_choice": "get_time"}, "session.tool_choice"),
            ({"tools": [{**WEATHER, "name": "bad name!"}]}, "session.tools.0.name"),
            ({"tools": [WEATHER, WEATHER]}, "session.tools.1.name"),
            ({"tools": [{**WEATHER, "parameters": "none"}]}, "session.tools.0.parameters"),
            ({"tool_choice": "required"}, "session.tool_choice"),
            ({"tool_choice": {"type": "mcp"}}, "session.tool_choice"),
        ]
        for change, param in bad:
            await session.send(
                {"type": "session.update", "session": {"type": "realtime", **change}}
            )
            error = (await session.next("error"))["error"]
            assert error["param"] == param, (change, error)
        await session.send({"type": "response.create", "response": {"tool_choice": "get_weather"}})
        error = (await session.next("error"))["error"]
        assert error["param"] == "response.tool_choice"
        # Nothing above changed the session; it still answers.
        await ask(session, "Say hello.")
        await session.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        response = (await session.next("response.done", timeout=90))["response"]
        assert response["status"] in ("completed", "incomplete")
        assert response["output"][0]["type"] == "message"
