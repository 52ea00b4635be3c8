"""The protocol around the turns, through the real daemon: the beta dialect, manual commits,
transcription-only sessions, conversation items, out-of-band replies and bad input. Every event
is checked against the openai package's GA or beta event types as it arrives."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from tests.core.api.realtime.conftest import Daemon
from tests.support.realtime import PCM_RATE, Session, connect, pcm16, silence
from tests.support.speech import SENTENCES, speech
from tests.support.wer import word_error_rate

PCM_BPS = PCM_RATE * 2


async def reply_text(session: Session, response_id: str, *, delta: str) -> str:
    return "".join(e["delta"] for e in session.of(delta, response_id=response_id))


async def test_beta_dialect(daemon: Daemon) -> None:
    async with connect(daemon.url, model="gpt-4o-realtime-preview", beta=True) as session:
        created = (await session.next("session.created"))["session"]
        assert created["input_audio_format"] == "pcm16"
        assert created["turn_detection"]["type"] == "server_vad"
        await session.send(
            {
                "type": "session.update",
                "session": {
                    "modalities": ["text"],
                    "instructions": "Answer in one short sentence.",
                    "input_audio_format": "g711_ulaw",
                    "turn_detection": {"type": "semantic_vad", "eagerness": "high"},
                },
            }
        )
        updated = (await session.next("session.updated"))["session"]
        assert updated["modalities"] == ["text"]
        assert updated["input_audio_format"] == "g711_ulaw"
        assert updated["turn_detection"] == {
            "type": "semantic_vad",
            "eagerness": "high",
            "create_response": True,
            "interrupt_response": True,
        }
        await session.say("What color is the sky?")
        created_item = await session.next("conversation.item.created")
        assert created_item["item"]["content"][0] == {
            "type": "input_text",
            "text": "What color is the sky?",
        }
        await session.send({"type": "response.create"})
        done = await session.next("response.done", timeout=60)
        response = done["response"]
        assert response["status"] == "completed"
        assert response["modalities"] == ["text"]
        text = await reply_text(session, response["id"], delta="response.text.delta")
        assert text.strip()
        assert session.of("response.text.done")[0]["text"] == text
        assert response["output"][0]["content"][0] == {"type": "text", "text": text}
        # A spoken reply, with beta's names for its events.
        await session.send({"type": "session.update", "session": {"modalities": ["audio", "text"]}})
        await session.next("session.updated")
        await session.send(
            {"type": "response.create", "response": {"output_audio_format": "g711_alaw"}}
        )
        spoken = (await session.next("response.done", timeout=60))["response"]
        assert spoken["output_audio_format"] == "g711_alaw"
        assert session.audio_of(spoken["id"], delta="response.audio.delta")
        transcript = session.of("response.audio_transcript.done", response_id=spoken["id"])
        assert transcript and transcript[0]["transcript"]
        assert spoken["output"][0]["content"][0]["type"] == "audio"
        # GA names never appear on a beta connection.
        assert not [k for k in session.kinds() if "output_" in k and "item" not in k]
        assert "conversation.item.added" not in session.kinds()


async def test_manual_commit_and_text_replies(daemon: Daemon) -> None:
    async with connect(daemon.url) as session:
        await session.next("session.created")
        await session.send(
            {
                "type": "session.update",
                "event_id": "ev_manual",
                "session": {
                    "type": "realtime",
                    "output_modalities": ["text"],
                    "audio": {"input": {"turn_detection": None}},
                },
            }
        )
        updated = (await session.next("session.updated"))["session"]
        assert updated["audio"]["input"]["turn_detection"] is None
        assert updated["output_modalities"] == ["text"]
        await session.send({"type": "input_audio_buffer.commit", "event_id": "ev_empty"})
        empty = await session.next("error")
        assert empty["error"]["code"] == "input_audio_buffer_commit_empty"
        assert empty["error"]["event_id"] == "ev_empty"
        # Audio is only taken when committed: no turn detection, no speech events.
        await session.stream(pcm16(speech(SENTENCES[0])), bytes_per_second=PCM_BPS, speed=8)
        await session.send({"type": "input_audio_buffer.clear"})
        await session.next("input_audio_buffer.cleared")
        await session.stream(pcm16(speech(SENTENCES[1])), bytes_per_second=PCM_BPS, speed=8)
        await session.send({"type": "input_audio_buffer.commit"})
        committed = await session.next("input_audio_buffer.committed")
        heard = await session.next("conversation.item.input_audio_transcription.completed")
        assert heard["item_id"] == committed["item_id"]
        assert word_error_rate(SENTENCES[1], heard["transcript"]) <= 0.2, heard["transcript"]
        assert "input_audio_buffer.speech_started" not in session.kinds()
        assert "response.created" not in session.kinds()
        await session.send({"type": "response.create", "response": {"max_output_tokens": 20}})
        done = await session.next("response.done", timeout=60)
        response = done["response"]
        assert response["status"] in ("completed", "incomplete")
        assert response["max_output_tokens"] == 20
        text = await reply_text(session, response["id"], delta="response.output_text.delta")
        assert text.strip() and session.of("response.output_text.done")[0]["text"] == text
        assert response["usage"]["output_tokens"] <= 20


async def test_transcription_session(daemon: Daemon) -> None:
    async with connect(daemon.url, model="", intent="transcription") as session:
        created = (await session.next("session.created"))["session"]
        assert created["type"] == "transcription"
        await session.send(
            {
                "type": "session.update",
                "session": {
                    "type": "transcription",
                    "audio": {
                        "input": {
                            "transcription": {"model": "whisper-1", "language": "en"},
                            "turn_detection": {"type": "server_vad", "silence_duration_ms": 400},
                        }
                    },
                },
            }
        )
        updated = (await session.next("session.updated"))["session"]
        assert updated["audio"]["input"]["transcription"]["model"] == "whisper-1"
        assert updated["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 400
        await session.stream(
            pcm16(speech(SENTENCES[2])) + silence(1.2, PCM_BPS),
            bytes_per_second=PCM_BPS,
            speed=4,
        )
        heard = await session.next("conversation.item.input_audio_transcription.completed")
        assert word_error_rate(SENTENCES[2], heard["transcript"]) <= 0.2, heard["transcript"]
        deltas = "".join(
            e["delta"]
            for e in session.of(
                "conversation.item.input_audio_transcription.delta", item_id=heard["item_id"]
            )
        )
        assert deltas == heard["transcript"]
        await session.send({"type": "response.create", "event_id": "ev_reply"})
        refused = await session.next("error")
        assert refused["error"]["code"] == "invalid_session_type"
        assert "response.created" not in session.kinds()


async def test_beta_transcription_session(daemon: Daemon) -> None:
    async with connect(daemon.url, model="", beta=True, intent="transcription") as session:
        await session.next("session.created")
        await session.send(
            {
                "type": "transcription_session.update",
                "session": {
                    "input_audio_transcription": {"model": "whisper-1"},
                    "turn_detection": {"type": "server_vad", "threshold": 0.6},
                },
            }
        )
        updated = (await session.next("transcription_session.updated"))["session"]
        assert updated["input_audio_transcription"]["model"] == "whisper-1"
        assert updated["turn_detection"]["threshold"] == 0.6


async def send_and_expect_error(session: Session, event: Any, code: str) -> dict[str, Any]:
    await session.connection.send_raw(event) if isinstance(event, str) else await session.send(
        event
    )
    error = await session.next("error")
    assert error["error"]["code"] == code, error
    return error


async def test_conversation_items_and_out_of_band_replies(daemon: Daemon) -> None:
    async with connect(daemon.url) as session:
        await session.next("session.created")
        await session.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "output_modalities": ["text"]},
            }
        )
        await session.next("session.updated")

        async def create(item: dict[str, Any], previous: str | None = None) -> dict[str, Any]:
            event: dict[str, Any] = {"type": "conversation.item.create", "item": item}
            if previous is not None:
                event["previous_item_id"] = previous
            await session.send(event)
            added = await session.next("conversation.item.added")
            await session.next("conversation.item.done")
            return added

        first = await create(
            {
                "type": "message",
                "role": "user",
                "id": "item_one",
                "content": [{"type": "input_text", "text": "My name is Ada."}],
            }
        )
        assert first["previous_item_id"] is None
        second = await create(
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Hello Ada."}],
            }
        )
        assert second["previous_item_id"] == "item_one"
        system = await create(
            {
                "type": "message",
                "role": "system",
                "content": [{"type": "input_text", "text": "Be brief."}],
            },
            previous="root",
        )
        assert system["previous_item_id"] is None
        # Audio in an item is transcribed, as a spoken turn is.
        clip = base64.b64encode(pcm16(speech(SENTENCES[0]))).decode()
        await session.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "id": "item_audio",
                    "content": [{"type": "input_audio", "audio": clip}],
                },
            }
        )
        assert (await session.next("conversation.item.added"))["item"]["id"] == "item_audio"
        heard = await session.next("conversation.item.input_audio_transcription.completed")
        assert heard["item_id"] == "item_audio"
        assert word_error_rate(SENTENCES[0], heard["transcript"]) <= 0.2, heard["transcript"]
        await session.next("conversation.item.done")
        await session.send({"type": "conversation.item.delete", "item_id": second["item"]["id"]})
        assert (await session.next("conversation.item.deleted"))["item_id"] == second["item"]["id"]
        await session.send({"type": "conversation.item.retrieve", "item_id": "item_one"})
        assert (await session.next("conversation.item.retrieved"))["item"]["id"] == "item_one"
        # An out-of-band reply answers its own input and joins no conversation.
        await session.send(
            {
                "type": "response.create",
                "response": {
                    "conversation": "none",
                    "metadata": {"topic": "greeting"},
                    "input": [
                        {"type": "item_reference", "id": "item_one"},
                        {
                            "type": "message",
                            "role": "user",
                            "content": [{"type": "input_text", "text": "Say hi."}],
                        },
                    ],
                },
            }
        )
        done = await session.next("response.done", timeout=60)
        response = done["response"]
        assert response["conversation_id"] is None
        assert response["metadata"] == {"topic": "greeting"}
        out_of_band = response["output"][0]["id"]
        await session.send(
            {"type": "conversation.item.retrieve", "item_id": out_of_band, "event_id": "ev_gone"}
        )
        missing = await session.next("error")
        assert missing["error"]["code"] == "item_not_found"
        assert missing["error"]["event_id"] == "ev_gone"
        # Truncating is for spoken replies; cancelling needs a reply in progress.
        await send_and_expect_error(
            session,
            {
                "type": "conversation.item.truncate",
                "item_id": "item_one",
                "content_index": 0,
                "audio_end_ms": 10,
            },
            "invalid_item",
        )
        await send_and_expect_error(
            session, {"type": "response.cancel"}, "response_cancel_not_active"
        )
        await session.send({"type": "response.create"})
        await session.next("response.created")
        await send_and_expect_error(
            session, {"type": "response.create"}, "conversation_already_has_active_response"
        )
        await session.next("response.done", timeout=60)


async def test_bad_events_get_errors_and_the_session_goes_on(daemon: Daemon) -> None:
    async with connect(daemon.url) as session:
        await session.next("session.created")
        cases: list[tuple[Any, str, str | None]] = [
            ('{"type": "session.update", "event_id": "ev_1", ', "invalid_json", None),
            ('["not", "an", "object"]', "invalid_event", None),
            ({"event_id": "ev_2"}, "missing_required_parameter", "type"),
            (
                {"type": "input_audio_buffer.shout", "event_id": "ev_3"},
                "unknown_event_type",
                "type",
            ),
            (
                {"type": "input_audio_buffer.append", "event_id": "ev_4", "audio": "%%%"},
                "invalid_value",
                "audio",
            ),
            (
                {"type": "input_audio_buffer.append", "event_id": "ev_5"},
                "missing_required_parameter",
                "audio",
            ),
            (
                {
                    "type": "session.update",
                    "event_id": "ev_6",
                    "session": {"type": "realtime", "colour": "red"},
                },
                "unknown_parameter",
                "session.colour",
            ),
            (
                {
                    "type": "session.update",
                    "event_id": "ev_7",
                    "session": {
                        "type": "realtime",
                        "audio": {"input": {"format": {"type": "audio/flac"}}},
                    },
                },
                "invalid_value",
                "session.audio.input.format.type",
            ),
            (
                {
                    "type": "session.update",
                    "event_id": "ev_8",
                    "session": {
                        "type": "realtime",
                        "audio": {
                            "input": {"turn_detection": {"type": "server_vad", "threshold": 7}}
                        },
                    },
                },
                "invalid_value",
                "session.audio.input.turn_detection.threshold",
            ),
            (
                {
                    "type": "session.update",
                    "event_id": "ev_9",
                    "session": {"type": "transcription"},
                },
                "invalid_session_type",
                "session.type",
            ),
            (
                {"type": "conversation.item.delete", "event_id": "ev_10", "item_id": "nope"},
                "item_not_found",
                "item_id",
            ),
            (
                {
                    "type": "conversation.item.create",
                    "event_id": "ev_11",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_image", "image_url": "x"}],
                    },
                },
                "invalid_value",
                "item.content.0.type",
            ),
            (
                {
                    "type": "conversation.item.create",
                    "event_id": "ev_12",
                    "item": {"type": "message", "role": "user", "content": []},
                },
                "invalid_value",
                "item.content",
            ),
            (
                {"type": "output_audio_buffer.clear", "event_id": "ev_13"},
                "unsupported_event",
                "type",
            ),
            (
                {
                    "type": "response.create",
                    "event_id": "ev_14",
                    "response": {"conversation": "maybe"},
                },
                "invalid_value",
                "response.conversation",
            ),
        ]
        for event, code, param in cases:
            if isinstance(event, str):
                await session.connection.send_raw(event)
            else:
                await session.send(event)
            error = (await session.next("error"))["error"]
            assert error["code"] == code, (event, error)
            assert error["param"] == param, (event, error)
            if isinstance(event, dict) and "event_id" in event:
                assert error["event_id"] == event["event_id"]
        # Still serving: a valid update is applied.
        await session.send(
            {"type": "session.update", "session": {"type": "realtime", "instructions": "Hi."}}
        )
        assert (await session.next("session.updated"))["session"]["instructions"] == "Hi."
        assert not session.closed.is_set()


async def test_spoken_turn_with_semantic_turn_detection(daemon: Daemon) -> None:
    async with connect(daemon.url) as session:
        await session.next("session.created")
        await session.update(
            {
                "output_modalities": ["text"],
                "audio": {
                    "input": {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}}
                },
            }
        )
        await session.next("session.updated")
        await session.stream(
            pcm16(speech("Where do penguins live?")), bytes_per_second=PCM_BPS, speed=2
        )
        quiet = asyncio.create_task(session.stream(silence(4, PCM_BPS), bytes_per_second=PCM_BPS))
        stopped = await session.next("input_audio_buffer.speech_stopped")
        done = await session.next("response.done", timeout=60)
        quiet.cancel()
        assert done["response"]["status"] in ("completed", "incomplete")
        started = session.of("input_audio_buffer.speech_started")[0]
        assert stopped["audio_end_ms"] > started["audio_start_ms"]
