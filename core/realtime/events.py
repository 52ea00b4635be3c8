"""What a realtime session reports, in its own terms; each front door renders these in its
protocol (the OpenAI realtime adapter names them as GA or beta events).

The events follow a session's life: speech found in the input, turns committed as user items,
transcripts, and responses (an assistant item whose audio and transcript stream in pieces).
Items and responses in events are snapshots taken when the event was made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.engines.llm import Usage
from core.realtime.conversation import Content, Item
from core.realtime.formats import AudioFormat
from core.realtime.settings import Modality, SessionSettings

ResponseStatus = Literal["in_progress", "completed", "cancelled", "failed", "incomplete"]
StatusReason = Literal["turn_detected", "client_cancelled", "max_output_tokens", "content_filter"]


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    message: str
    code: str
    type: str = "invalid_request_error"
    param: str | None = None
    #: The client event that caused it.
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class ResponseInfo:
    id: str
    status: ResponseStatus
    output: tuple[Item, ...]
    modalities: tuple[Modality, ...]
    voice: str
    output_format: AudioFormat
    max_output_tokens: int | None
    #: "auto" when the reply joins the conversation, None for out-of-band replies.
    conversation_id: str | None
    metadata: dict[str, str] | None = None
    reason: StatusReason | None = None
    error: ErrorInfo | None = None
    usage: Usage | None = None
    #: Seconds of audio spoken (for usage).
    audio_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class SessionChanged:
    settings: SessionSettings
    created: bool = False


@dataclass(frozen=True, slots=True)
class Failure:
    error: ErrorInfo


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    item_id: str
    audio_start_ms: int


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    item_id: str
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class InputCommitted:
    item_id: str
    previous_item_id: str | None


@dataclass(frozen=True, slots=True)
class InputCleared:
    pass


@dataclass(frozen=True, slots=True)
class InputTimedOut:
    item_id: str
    audio_start_ms: int
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class ItemAdded:
    item: Item
    previous_item_id: str | None


@dataclass(frozen=True, slots=True)
class ItemDone:
    item: Item
    previous_item_id: str | None


@dataclass(frozen=True, slots=True)
class ItemRetrieved:
    item: Item


@dataclass(frozen=True, slots=True)
class ItemDeleted:
    item_id: str


@dataclass(frozen=True, slots=True)
class ItemTruncated:
    item_id: str
    content_index: int
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class TranscriptDelta:
    """A piece of the user's words (pieces append)."""

    item_id: str
    content_index: int
    delta: str


@dataclass(frozen=True, slots=True)
class TranscriptDone:
    item_id: str
    content_index: int
    transcript: str
    audio_seconds: float


@dataclass(frozen=True, slots=True)
class TranscriptFailed:
    item_id: str
    content_index: int
    error: ErrorInfo


@dataclass(frozen=True, slots=True)
class ResponseCreated:
    response: ResponseInfo


@dataclass(frozen=True, slots=True)
class ResponseDone:
    response: ResponseInfo


@dataclass(frozen=True, slots=True)
class OutputItemAdded:
    response_id: str
    output_index: int
    item: Item


@dataclass(frozen=True, slots=True)
class OutputItemDone:
    response_id: str
    output_index: int
    item: Item


@dataclass(frozen=True, slots=True)
class PartRef:
    """Where a piece of reply output belongs."""

    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0


@dataclass(frozen=True, slots=True)
class ContentPartAdded:
    ref: PartRef
    part: Content


@dataclass(frozen=True, slots=True)
class ContentPartDone:
    ref: PartRef
    part: Content


@dataclass(frozen=True, slots=True)
class AudioDelta:
    ref: PartRef
    audio: bytes


@dataclass(frozen=True, slots=True)
class AudioDone:
    ref: PartRef


@dataclass(frozen=True, slots=True)
class AudioTranscriptDelta:
    ref: PartRef
    delta: str


@dataclass(frozen=True, slots=True)
class AudioTranscriptDone:
    ref: PartRef
    transcript: str


@dataclass(frozen=True, slots=True)
class TextDelta:
    ref: PartRef
    delta: str


@dataclass(frozen=True, slots=True)
class TextDone:
    ref: PartRef
    text: str


@dataclass(frozen=True, slots=True)
class CallArgumentsDelta:
    """A piece of a function call's arguments (JSON text; pieces append)."""

    response_id: str
    item_id: str
    output_index: int
    call_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class CallArgumentsDone:
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    name: str
    arguments: str


Event = (
    SessionChanged
    | Failure
    | SpeechStarted
    | SpeechStopped
    | InputCommitted
    | InputCleared
    | InputTimedOut
    | ItemAdded
    | ItemDone
    | ItemRetrieved
    | ItemDeleted
    | ItemTruncated
    | TranscriptDelta
    | TranscriptDone
    | TranscriptFailed
    | ResponseCreated
    | ResponseDone
    | OutputItemAdded
    | OutputItemDone
    | ContentPartAdded
    | ContentPartDone
    | AudioDelta
    | AudioDone
    | AudioTranscriptDelta
    | AudioTranscriptDone
    | TextDelta
    | TextDone
    | CallArgumentsDelta
    | CallArgumentsDone
)
