"""Client events a realtime connection cannot take, in-process with fake engines (Silero for
the session's voice detection): each gets an error event and the session goes on."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.testclient import TestClient, WebSocketTestSession

from core.api.app import create_app
from tests.support import WriteConfig
from tests.support.runtime import running_runtime

CONFIG = """\
reload: {watch: false}
engines:
  brain: {capability: llm, engine: fake}
  mouth: {capability: tts, engine: fake, settings: {voices: [heart]}}
  ears: {capability: stt, engine: fake}
  silero: {capability: vad, engine: silero}
routes: {llm: [brain], tts: [mouth], stt: [ears], vad: [silero]}
"""

LONE_SURROGATE = "the event holds a lone UTF-16 surrogate"


def next_of(ws: WebSocketTestSession, kind: str) -> dict[str, Any]:
    while True:
        event: dict[str, Any] = ws.receive_json()
        if event["type"] == kind:
            return event


@contextlib.asynccontextmanager
async def realtime_socket(write_config: WriteConfig) -> AsyncIterator[WebSocketTestSession]:
    """A Realtime session on the fake engines, past its session.created."""
    async with running_runtime(write_config(CONFIG), entry_points=True) as runtime:
        app = create_app(runtime, manage_runtime=False)
        with (
            TestClient(app) as client,
            client.websocket_connect("/v1/realtime", headers={"host": "127.0.0.1:8765"}) as ws,
        ):
            next_of(ws, "session.created")
            yield ws


@pytest.mark.parametrize(
    ("frame", "code", "message"),
    [
        (
            '{"type": "session.update", "session": ' + "[" * 100_000 + "]" * 100_000 + "}",
            "invalid_json",
            "the event is nested too deeply",
        ),
        (
            '{"type": "session.update", '
            '"session": {"type": "realtime", "instructions": "\\ud800"}}',
            "invalid_unicode",
            LONE_SURROGATE,
        ),
        (
            '{"type": "conversation.item.create", "item": {"type": "message", "role": "user", '
            '"content": [{"type": "input_text", "text": "hi \\udfff"}]}}',
            "invalid_unicode",
            LONE_SURROGATE,
        ),
    ],
    ids=["nested_too_deeply", "surrogate_in_instructions", "surrogate_in_an_item"],
)
async def test_events_that_cannot_be_read_or_echoed_are_refused(
    write_config: WriteConfig, frame: str, code: str, message: str
) -> None:
    """A lone surrogate echoed in session.updated or conversation.item.added could not be sent
    as UTF-8: the connection's writer died and the session went silent for good."""
    async with realtime_socket(write_config) as ws:
        ws.send_text(frame)
        error = next_of(ws, "error")["error"]
        assert error["code"] == code
        assert error["message"].startswith(message)
        ws.send_text(
            json.dumps(
                {
                    "type": "session.update",
                    "session": {"type": "realtime", "instructions": "Hi."},
                }
            )
        )
        assert next_of(ws, "session.updated")["session"]["instructions"] == "Hi."


async def test_errors_name_the_field_the_client_sent(write_config: WriteConfig) -> None:
    """A field that may hold one of several types is named as sent (not ``voice.str`` or
    ``max_output_tokens.int``), and an unknown item in a reply's input by its place there."""
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"output": {"voice": 5}}},
            },
            "session.audio.output.voice",
        ),
        (
            {"type": "session.update", "session": {"type": "realtime", "max_output_tokens": "x"}},
            "session.max_output_tokens",
        ),
        (
            {"type": "response.create", "response": {"max_output_tokens": 2.5}},
            "response.max_output_tokens",
        ),
        (
            {"type": "response.create", "response": {"tool_choice": 7}},
            "response.tool_choice",
        ),
        (
            {
                "type": "response.create",
                "response": {
                    "conversation": "none",
                    "input": [
                        {"type": "message", "role": "user", "content": [{"type": "input_text"}]},
                        {"type": "item_reference", "id": "item_nowhere"},
                    ],
                },
            },
            "response.input.1.id",
        ),
    ]
    async with realtime_socket(write_config) as ws:
        for event, param in cases:
            ws.send_text(json.dumps(event))
            error = next_of(ws, "error")["error"]
            assert (error["type"], error["param"]) == ("invalid_request_error", param), event
            assert f"'{param}'" in error["message"] or param.endswith(".id"), error


async def test_a_reply_asked_for_with_no_output_modality_is_refused(
    write_config: WriteConfig,
) -> None:
    """As in session.update; before, the empty list was taken as "the session's modalities"."""
    async with realtime_socket(write_config) as ws:
        ws.send_text(json.dumps({"type": "response.create", "response": {"output_modalities": []}}))
        event = ws.receive_json()
        assert event["type"] == "error", event
        assert event["error"]["param"] == "response.output_modalities"
