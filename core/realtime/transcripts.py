"""Putting a finished transcript into its user item, and telling the client."""

from __future__ import annotations

from collections.abc import Callable

from core.realtime import events as ev
from core.realtime.conversation import Content, Conversation, Item
from core.realtime.failures import failure_info
from core.realtime.utterance import UtteranceText


def record_transcript(
    conversation: Conversation,
    emit: Callable[[ev.Event], None],
    item: Item,
    index: int,
    text: UtteranceText,
    audio_ms: float,
) -> None:
    """``text`` must be done. A transcript that failed altogether is reported as failed; the
    item (if the client has not deleted it meanwhile, whatever took its id since) gets what
    was heard."""
    said = text.known() or ""
    if text.error is not None and not said:
        emit(ev.TranscriptFailed(item.id, index, failure_info(text.error)))
    if not conversation.holds(item):
        return
    conversation.replace_content(
        item, index, Content("input_audio", transcript=said, audio_ms=audio_ms)
    )
    emit(ev.TranscriptDone(item.id, index, said, text.seconds))
    emit(ev.ItemDone(item.snapshot(), conversation.previous_of(item.id)))
