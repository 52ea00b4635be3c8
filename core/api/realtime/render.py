"""Session events as OpenAI realtime server events (GA names, or beta names)."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from core.api.realtime.dialect import Dialect, event_name
from core.api.realtime.shapes import (
    beta_transcription_session_json,
    error_json,
    event_part_json,
    item_json,
    response_json,
    session_json,
)
from core.realtime import events as ev


def new_event_id() -> str:
    return f"event_{uuid.uuid4().hex[:20]}"


class Renderer:
    """Turns one session's events into JSON objects for its connection."""

    def __init__(self, session_id: str, dialect: Dialect) -> None:
        self.session_id = session_id
        self.dialect = dialect
        self.conversation_id = "conv_" + session_id.removeprefix("sess_")

    def render(self, event: ev.Event) -> dict[str, Any] | None:
        """The server event, or None when the dialect has no such event."""
        name, body = self._body(event)
        named = event_name(name, self.dialect)
        if named is None:
            return None
        return {"type": named, "event_id": new_event_id(), **body}

    def _body(self, event: ev.Event) -> tuple[str, dict[str, Any]]:
        d = self.dialect
        match event:
            case ev.SessionChanged(settings=settings, created=created):
                if d is Dialect.BETA and settings.kind == "transcription" and not created:
                    return "transcription_session.updated", {
                        "session": beta_transcription_session_json(settings)
                    }
                name = "session.created" if created else "session.updated"
                return name, {"session": session_json(self.session_id, settings, d)}
            case ev.Failure(error=error):
                return "error", {"error": error_json(error)}
            case ev.SpeechStarted(item_id=item_id, audio_start_ms=start):
                return "input_audio_buffer.speech_started", {
                    "item_id": item_id,
                    "audio_start_ms": start,
                }
            case ev.SpeechStopped(item_id=item_id, audio_end_ms=end):
                return "input_audio_buffer.speech_stopped", {
                    "item_id": item_id,
                    "audio_end_ms": end,
                }
            case ev.InputCommitted(item_id=item_id, previous_item_id=previous):
                return "input_audio_buffer.committed", {
                    "item_id": item_id,
                    "previous_item_id": previous,
                }
            case ev.InputCleared():
                return "input_audio_buffer.cleared", {}
            case ev.InputTimedOut(item_id=item_id, audio_start_ms=start, audio_end_ms=end):
                return "input_audio_buffer.timeout_triggered", {
                    "item_id": item_id,
                    "audio_start_ms": start,
                    "audio_end_ms": end,
                }
            case ev.ItemAdded(item=item, previous_item_id=previous):
                return "conversation.item.added", {
                    "item": item_json(item, d),
                    "previous_item_id": previous,
                }
            case ev.ItemDone(item=item, previous_item_id=previous):
                return "conversation.item.done", {
                    "item": item_json(item, d),
                    "previous_item_id": previous,
                }
            case ev.ItemRetrieved(item=item):
                return "conversation.item.retrieved", {"item": item_json(item, d)}
            case ev.ItemDeleted(item_id=item_id):
                return "conversation.item.deleted", {"item_id": item_id}
            case ev.ItemTruncated(item_id=item_id, content_index=index, audio_end_ms=end):
                return "conversation.item.truncated", {
                    "item_id": item_id,
                    "content_index": index,
                    "audio_end_ms": end,
                }
            case ev.TranscriptDelta(item_id=item_id, content_index=index, delta=delta):
                return "conversation.item.input_audio_transcription.delta", {
                    "item_id": item_id,
                    "content_index": index,
                    "delta": delta,
                }
            case ev.TranscriptDone(
                item_id=item_id, content_index=index, transcript=text, audio_seconds=seconds
            ):
                return "conversation.item.input_audio_transcription.completed", {
                    "item_id": item_id,
                    "content_index": index,
                    "transcript": text,
                    "usage": {"type": "duration", "seconds": round(seconds, 3)},
                }
            case ev.TranscriptFailed(item_id=item_id, content_index=index, error=error):
                return "conversation.item.input_audio_transcription.failed", {
                    "item_id": item_id,
                    "content_index": index,
                    "error": error_json(error),
                }
            case ev.ResponseCreated(response=response):
                return "response.created", {"response": self._response(response)}
            case ev.ResponseDone(response=response):
                return "response.done", {"response": self._response(response)}
            case ev.OutputItemAdded(response_id=rid, output_index=index, item=item):
                return "response.output_item.added", {
                    "response_id": rid,
                    "output_index": index,
                    "item": item_json(item, d),
                }
            case ev.OutputItemDone(response_id=rid, output_index=index, item=item):
                return "response.output_item.done", {
                    "response_id": rid,
                    "output_index": index,
                    "item": item_json(item, d),
                }
            case ev.ContentPartAdded(ref=ref, part=part):
                return "response.content_part.added", {**_ref(ref), "part": event_part_json(part)}
            case ev.ContentPartDone(ref=ref, part=part):
                return "response.content_part.done", {**_ref(ref), "part": event_part_json(part)}
            case ev.AudioDelta(ref=ref, audio=audio):
                return "response.output_audio.delta", {
                    **_ref(ref),
                    "delta": base64.b64encode(audio).decode("ascii"),
                }
            case ev.AudioDone(ref=ref):
                return "response.output_audio.done", _ref(ref)
            case ev.AudioTranscriptDelta(ref=ref, delta=delta):
                return "response.output_audio_transcript.delta", {**_ref(ref), "delta": delta}
            case ev.AudioTranscriptDone(ref=ref, transcript=transcript):
                return "response.output_audio_transcript.done", {
                    **_ref(ref),
                    "transcript": transcript,
                }
            case ev.TextDelta(ref=ref, delta=delta):
                return "response.output_text.delta", {**_ref(ref), "delta": delta}
            case ev.TextDone(ref=ref, text=text):
                return "response.output_text.done", {**_ref(ref), "text": text}
            case ev.CallArgumentsDelta(
                response_id=rid, item_id=item_id, output_index=index, call_id=call_id, delta=delta
            ):
                return "response.function_call_arguments.delta", {
                    "response_id": rid,
                    "item_id": item_id,
                    "output_index": index,
                    "call_id": call_id,
                    "delta": delta,
                }
            case ev.CallArgumentsDone(
                response_id=rid,
                item_id=item_id,
                output_index=index,
                call_id=call_id,
                name=name,
                arguments=arguments,
            ):
                return "response.function_call_arguments.done", {
                    "response_id": rid,
                    "item_id": item_id,
                    "output_index": index,
                    "call_id": call_id,
                    "name": name,
                    "arguments": arguments,
                }
        raise TypeError(f"no server event for {type(event).__name__}")

    def _response(self, response: ev.ResponseInfo) -> dict[str, Any]:
        return response_json(response, self.dialect, conversation_id=self.conversation_id)


def _ref(ref: ev.PartRef) -> dict[str, Any]:
    return {
        "response_id": ref.response_id,
        "item_id": ref.item_id,
        "output_index": ref.output_index,
        "content_index": ref.content_index,
    }


def error_event(error: ev.ErrorInfo) -> dict[str, Any]:
    return {"type": "error", "event_id": new_event_id(), "error": error_json(error)}
