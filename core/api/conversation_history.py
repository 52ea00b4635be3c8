"""Bounded memory of recent conversations for ``/v1/conversation``.

Bounded three ways (messages per conversation, number of conversations, idle time) so a client
that invents a new id per request cannot grow the daemon's memory.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from core.engines.llm import ChatMessage


@dataclass
class _Conversation:
    messages: list[ChatMessage] = field(default_factory=list)
    last_used: float = 0.0


class ConversationHistory:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._items: OrderedDict[str, _Conversation] = OrderedDict()

    @staticmethod
    def new_id() -> str:
        return f"conv_{uuid.uuid4().hex[:20]}"

    def messages(self, conversation_id: str, idle_ttl: float) -> list[ChatMessage]:
        """The remembered messages, oldest first (empty for an unknown or expired id)."""
        self._expire(idle_ttl)
        item = self._items.get(conversation_id)
        return list(item.messages) if item is not None else []

    def append(
        self,
        conversation_id: str,
        turn: list[ChatMessage],
        *,
        max_messages: int,
        max_conversations: int,
    ) -> None:
        item = self._items.pop(conversation_id, None) or _Conversation()
        item.messages.extend(turn)
        if max_messages == 0:
            item.messages.clear()
        elif len(item.messages) > max_messages:
            del item.messages[: len(item.messages) - max_messages]
        item.last_used = self._clock()
        self._items[conversation_id] = item
        while len(self._items) > max_conversations:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)

    def _expire(self, idle_ttl: float) -> None:
        cutoff = self._clock() - idle_ttl
        while self._items:
            oldest_id, oldest = next(iter(self._items.items()))
            if oldest.last_used >= cutoff:
                break
            del self._items[oldest_id]
