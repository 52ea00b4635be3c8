"""Putting a finished transcript into its user item, and telling the client."""

from __future__ import annotations

from collections.abc import Callable

from core.realtime import events as ev
from core.realtime.conversation import Content, Conversation
from core.realtime.errors import RealtimeError
from core.realtime.failures import failure_info
from core.realtime.utterance import UtteranceText


def record_transcript(
    conversation: Conversation,
    emit: Callable[[ev.Event], None],
    item_id: str,
    index: int,
    text: UtteranceText,
    audio_ms: float,
) -> None:
    """``text`` must be done. A transcript that failed altogether is reported as failed; the
    item (if the client has not deleted it meanwhile) gets what was heard."""
    said = text.known() or ""
    if text.error is not None and not said:
        emit(ev.TranscriptFailed(item_id, index, failure_info(text.error)))
    try:
        item = conversation.get(item_id)
    except RealtimeError:
        return
    conversation.replace_content(
        item, index, Content("input_audio", transcript=said, audio_ms=audio_ms)
    )
    emit(ev.TranscriptDone(item_id, index, said, text.seconds))
    emit(ev.ItemDone(item.snapshot(), conversation.previous_of(item_id)))
