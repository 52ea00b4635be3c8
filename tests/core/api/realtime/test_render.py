"""Every kind of event a session emits, in every shape it takes, rendered in both dialects and
checked against the openai package's own server event types (the daemon tests check the events
real sessions send; this one also reaches the rare ones: failures, timeouts, every status)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from core.api.realtime.dialect import Dialect
from core.api.realtime.render import Renderer
from core.config.schema import RealtimeProfile, SemanticVadSettings
from core.engines.llm import Usage
from core.realtime import events as ev
from core.realtime.conversation import Content, Item
from core.realtime.formats import PCM16, PCMA, PCMU
from core.realtime.settings import TranscriptionSettings, initial_settings
from core.realtime.spoken import SpokenSentence
from tests.support.realtime import check_event

PROFILE = RealtimeProfile()
SETTINGS = initial_settings("realtime", "gpt-realtime", "default", PROFILE)
REF = ev.PartRef("resp_1", "item_2")
ERROR = ev.ErrorInfo("no engine could speak", "engines_unavailable", type="server_error")


def items() -> list[Item]:
    return [
        Item(
            "item_1", role="user", content=[Content("input_audio", transcript=None, audio_ms=900)]
        ),
        Item(
            "item_1b",
            role="user",
            content=[Content("input_text", text="hi"), Content("input_audio", transcript="hello")],
        ),
        Item(
            "item_2",
            role="assistant",
            status="in_progress",
            content=[Content("output_audio", transcript="")],
        ),
        Item(
            "item_3",
            role="assistant",
            status="incomplete",
            content=[
                Content(
                    "output_audio",
                    transcript="Hello",
                    audio_ms=1200,
                    heard_ms=400,
                    sentences=(SpokenSentence("Hello there.", 0, 1200),),
                )
            ],
        ),
        Item("item_4", role="assistant", content=[Content("output_text", text="Hello.")]),
        Item("item_5", role="system", content=[Content("input_text", text="Be brief.")]),
        Item("item_6", type="function_call", call_id="call_1", name="lookup", arguments="{}"),
        Item("item_7", type="function_call_output", call_id="call_1", output="42"),
    ]


def responses() -> list[ev.ResponseInfo]:
    base = ev.ResponseInfo(
        id="resp_1",
        status="in_progress",
        output=(),
        modalities=("audio",),
        voice="alloy",
        output_format=PCM16,
        max_output_tokens=None,
        conversation_id="auto",
    )
    spoken = items()[3]
    return [
        base,
        dataclasses.replace(base, status="completed", output=(spoken,), usage=Usage(12, 7)),
        dataclasses.replace(base, status="cancelled", output=(spoken,), reason="turn_detected"),
        dataclasses.replace(base, status="cancelled", output=(), reason="client_cancelled"),
        dataclasses.replace(
            base, status="incomplete", reason="max_output_tokens", max_output_tokens=20
        ),
        dataclasses.replace(base, status="failed", error=ERROR, output_format=PCMA),
        dataclasses.replace(
            base,
            status="completed",
            modalities=("text",),
            conversation_id=None,
            metadata={"topic": "x"},
            output=(items()[4],),
        ),
        # Words, then a function call.
        dataclasses.replace(base, status="completed", output=(spoken, items()[6])),
    ]


def sessions() -> list[Any]:
    return [
        SETTINGS,
        dataclasses.replace(
            SETTINGS,
            turn_detection=None,
            output_modalities=("text",),
            input_format=PCMU,
            output_format=PCMA,
            max_output_tokens=100,
            tools=({"type": "function", "name": "lookup", "description": "", "parameters": {}},),
            transcription=TranscriptionSettings(model="whisper-1", language="en", prompt="x"),
            passthrough={"noise_reduction": {"type": "near_field"}, "tracing": "auto"},
        ),
        dataclasses.replace(SETTINGS, turn_detection=SemanticVadSettings(eagerness="low")),
        dataclasses.replace(SETTINGS, model="gpt-realtime-mini", temperature=0.7),
        initial_settings("transcription", "gpt-4o-transcribe", "default", PROFILE),
    ]


def all_events() -> list[ev.Event]:
    found: list[ev.Event] = []
    for settings in sessions():
        found += [ev.SessionChanged(settings, created=True), ev.SessionChanged(settings)]
    found += [
        ev.Failure(ERROR),
        ev.Failure(ev.ErrorInfo("bad", "invalid_value", param="audio", event_id="ev_1")),
        ev.SpeechStarted("item_1", 300),
        ev.SpeechStopped("item_1", 2300),
        ev.InputCommitted("item_1", None),
        ev.InputCommitted("item_1", "item_0"),
        ev.InputCleared(),
        ev.InputTimedOut("item_9", 1000, 6000),
        ev.ItemDeleted("item_1"),
        ev.ItemTruncated("item_3", 0, 400),
        ev.TranscriptDelta("item_1", 0, "hello"),
        ev.TranscriptDone("item_1", 0, "hello there", 1.25),
        ev.TranscriptFailed("item_1", 0, ERROR),
        ev.ContentPartAdded(REF, Content("output_audio", transcript="")),
        ev.ContentPartDone(REF, Content("output_text", text="Hi.")),
        ev.AudioDelta(REF, b"\x00\x01" * 10),
        ev.AudioDone(REF),
        ev.AudioTranscriptDelta(REF, "Hello"),
        ev.AudioTranscriptDone(REF, "Hello"),
        ev.TextDelta(REF, "Hel"),
        ev.TextDone(REF, "Hello"),
        ev.CallArgumentsDelta("resp_1", "item_6", 1, "call_1", '{"q": '),
        ev.CallArgumentsDone("resp_1", "item_6", 1, "call_1", "lookup", '{"q": 1}'),
    ]
    for item in items():
        found += [
            ev.ItemAdded(item, None),
            ev.ItemAdded(item, "item_0"),
            ev.ItemDone(item, "item_0"),
            ev.ItemRetrieved(item),
            ev.OutputItemAdded("resp_1", 0, item),
            ev.OutputItemDone("resp_1", 0, item),
        ]
    for response in responses():
        found += [ev.ResponseCreated(response), ev.ResponseDone(response)]
    return found


@pytest.mark.parametrize("dialect", list(Dialect))
def test_every_event_validates(dialect: Dialect) -> None:
    renderer = Renderer("sess_1", dialect)
    kinds = set()
    for event in all_events():
        body = renderer.render(event)
        if body is None:
            continue
        check_event(body, beta=dialect is Dialect.BETA)
        kinds.add(body["type"])
    # Each session event class is covered by the list above.
    assert {type(e) for e in all_events()} == set(ev.Event.__args__)  # type: ignore[attr-defined]
    if dialect is Dialect.GA:
        assert "response.output_audio.delta" in kinds and "conversation.item.done" in kinds
        assert "input_audio_buffer.timeout_triggered" in kinds
        assert "response.function_call_arguments.done" in kinds
    else:
        assert "response.audio.delta" in kinds and "conversation.item.created" in kinds
        assert "transcription_session.updated" in kinds
        assert not [k for k in kinds if k.startswith("response.output_audio")]
