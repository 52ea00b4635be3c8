"""GA or beta: which names and shapes a connection's server events use.

A client asks for the beta protocol with the ``OpenAI-Beta: realtime=v1`` header or the
``openai-beta.realtime-v1`` WebSocket subprotocol; everything else speaks GA.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class Dialect(enum.Enum):
    GA = "ga"
    BETA = "beta"


BETA_SUBPROTOCOL = "openai-beta.realtime-v1"

#: GA event names that the beta API spelt differently.
_BETA_NAMES = {
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "conversation.item.added": "conversation.item.created",
}
#: GA events the beta API never sent.
_NOT_IN_BETA = frozenset({"conversation.item.done", "input_audio_buffer.timeout_triggered"})


def dialect_of(headers: Iterable[tuple[bytes, bytes]], subprotocols: Iterable[str]) -> Dialect:
    for name, value in headers:
        if name.lower() == b"openai-beta" and b"realtime=v1" in value.lower():
            return Dialect.BETA
    return Dialect.BETA if BETA_SUBPROTOCOL in subprotocols else Dialect.GA


def event_name(name: str, dialect: Dialect) -> str | None:
    """The name of a (GA-named) event in ``dialect``; None when that dialect has no such event."""
    if dialect is Dialect.GA:
        return name
    if name in _NOT_IN_BETA:
        return None
    return _BETA_NAMES.get(name, name)
