"""A session's conversation: ordered items (messages, function calls and their outputs), and
the chat context the next reply is made from.

Items change while they are made (a transcript arrives, a reply grows, a reply is cut at what
the listener heard); events carry :meth:`Item.snapshot` copies so a sent event never changes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from core.engines.llm import ChatMessage, ToolCall
from core.realtime.errors import RealtimeError
from core.realtime.spoken import SpokenSentence, heard_text

ContentKind = Literal["input_text", "input_audio", "output_text", "output_audio"]
ItemType = Literal["message", "function_call", "function_call_output"]
ItemRole = Literal["user", "assistant", "system"]
ItemStatus = Literal["completed", "incomplete", "in_progress"]
#: ``previous_item_id`` that puts an item first.
ROOT = "root"


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


@dataclass(frozen=True, slots=True)
class Content:
    kind: ContentKind
    #: input_text / output_text.
    text: str | None = None
    #: input_audio / output_audio: what the audio says (for a reply, only what was heard once it
    #: has been cut).
    transcript: str | None = None
    #: Length of the audio (milliseconds).
    audio_ms: float = 0.0
    #: Where a reply's audio was cut (what the listener heard); None when it was heard whole.
    heard_ms: float | None = None
    #: output_audio: each sentence and where it sits in the audio.
    sentences: tuple[SpokenSentence, ...] = ()


@dataclass
class Item:
    id: str
    type: ItemType = "message"
    role: ItemRole | None = None
    status: ItemStatus = "completed"
    content: list[Content] = field(default_factory=list)
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | None = None

    def snapshot(self) -> Item:
        return dataclasses.replace(self, content=list(self.content))

    def text(self) -> str:
        """What the item says, as the language model sees it."""
        pieces: list[str] = []
        for part in self.content:
            value = part.text if part.kind in ("input_text", "output_text") else part.transcript
            if value and value.strip():
                pieces.append(value.strip())
        return " ".join(pieces)


class Conversation:
    def __init__(
        self,
        max_context_items: int,
        max_items: int = 2048,
        on_dropped: Callable[[str], None] | None = None,
    ) -> None:
        self._items: list[Item] = []
        self._max_context = max_context_items
        #: Items kept at most; the oldest go first, and ``on_dropped`` hears each one's id.
        self._max_items = max_items
        self._on_dropped = on_dropped
        #: Bumped on every change, so work started on an older context can tell.
        self.version = 0
        #: Items whose audio is still being transcribed; a reply waits for them.
        self.pending: dict[str, asyncio.Future[None]] = {}

    def __iter__(self) -> Iterator[Item]:
        return iter(self._items)

    @property
    def max_context(self) -> int:
        """Messages (other than the instructions) a reply's context holds at most."""
        return self._max_context

    def __len__(self) -> int:
        return len(self._items)

    @property
    def last_id(self) -> str | None:
        return self._items[-1].id if self._items else None

    def get(self, item_id: str) -> Item:
        for item in self._items:
            if item.id == item_id:
                return item
        raise RealtimeError(
            f"no item with id {item_id!r} in the conversation",
            code="item_not_found",
            param="item_id",
        )

    def holds(self, item: Item) -> bool:
        """Whether this very item is in the conversation (not just one with its id)."""
        return any(existing is item for existing in self._items)

    def add(self, item: Item, previous_item_id: str | None = None) -> str | None:
        """Insert after ``previous_item_id`` (``root``: first; unset: last); returns the id of the
        item now before it."""
        if item.id == ROOT:
            raise RealtimeError(
                f"{ROOT!r} is not an item id: as previous_item_id it means the start",
                param="item.id",
            )
        if any(existing.id == item.id for existing in self._items):
            raise RealtimeError(
                f"an item with id {item.id!r} already exists",
                code="duplicate_item_id",
                param="item.id",
            )
        if previous_item_id is None:
            previous = self.last_id
            self._items.append(item)
        elif previous_item_id == ROOT:
            previous = None
            self._items.insert(0, item)
        else:
            index = self._items.index(self.find(previous_item_id, "previous_item_id"))
            previous = previous_item_id
            self._items.insert(index + 1, item)
        self.version += 1
        self._drop_oldest(keep=item)
        return previous

    def _drop_oldest(self, keep: Item) -> None:
        while len(self._items) > self._max_items:
            oldest = self._items[0] if self._items[0] is not keep else self._items[1]
            self.delete(oldest.id)
            if self._on_dropped is not None:
                self._on_dropped(oldest.id)

    def previous_of(self, item_id: str) -> str | None:
        index = self._items.index(self.get(item_id))
        return self._items[index - 1].id if index else None

    def delete(self, item_id: str) -> None:
        self._items.remove(self.get(item_id))
        self.pending.pop(item_id, None)
        self.version += 1

    def replace_content(self, item: Item, index: int, content: Content) -> None:
        item.content[index] = content
        self.version += 1

    def truncate(self, item_id: str, content_index: int, audio_end_ms: int) -> None:
        """Cut an assistant reply's audio, and its transcript, at what the listener heard."""
        item = self.check_truncate(item_id, content_index, audio_end_ms)
        part = item.content[content_index]
        self.replace_content(item, content_index, heard_part(part, audio_end_ms))

    def check_truncate(self, item_id: str, content_index: int, audio_end_ms: int) -> Item:
        """The item a truncation would cut, or the error it would get (checked before a reply
        being spoken is stopped for it)."""
        item = self.get(item_id)
        if item.role != "assistant":
            raise RealtimeError(
                "only assistant messages can be truncated", code="invalid_item", param="item_id"
            )
        if not 0 <= content_index < len(item.content) or (
            item.content[content_index].kind != "output_audio"
        ):
            raise RealtimeError(
                f"content {content_index} of {item_id!r} is not audio", param="content_index"
            )
        part = item.content[content_index]
        if audio_end_ms < 0 or audio_end_ms > part.audio_ms + 1:
            raise RealtimeError(
                f"audio_end_ms {audio_end_ms} is outside the audio, which lasts "
                f"{int(part.audio_ms)} ms",
                param="audio_end_ms",
            )
        return item

    def messages(self, instructions: str, *, leave_out: str | None = None) -> list[ChatMessage]:
        """The chat context: instructions, then the latest items."""
        return context_messages(
            [i for i in self._items if i.id != leave_out], instructions, self._max_context
        )

    def find(self, item_id: str, param: str) -> Item:
        """:meth:`get`, naming ``param`` (the client's field that held the id) when not found."""
        try:
            return self.get(item_id)
        except RealtimeError as exc:
            raise RealtimeError(exc.message, code=exc.code, param=param) from None


def context_messages(items: list[Item], instructions: str, limit: int) -> list[ChatMessage]:
    """Chat messages for ``items``: the last ``limit`` messages that say something.

    Function calls become an assistant message carrying them (calls in a row share one) and
    their outputs ``tool`` messages; a cut never leaves an output without its call."""
    history: list[ChatMessage] = []
    for item in items:
        if item.type == "function_call":
            call = ToolCall(item.call_id or item.id, item.name or "", item.arguments or "")
            last = history[-1] if history else None
            if last is not None and last.role == "assistant" and last.tool_calls:
                history[-1] = dataclasses.replace(last, tool_calls=(*last.tool_calls, call))
            else:
                history.append(ChatMessage("assistant", "", tool_calls=(call,)))
        elif item.type == "function_call_output":
            history.append(ChatMessage("tool", item.output or "", tool_call_id=item.call_id))
        elif item.role is not None and (text := item.text()):
            history.append(ChatMessage(item.role, text))
    kept = history[-limit:] if limit else []
    while kept and kept[0].role == "tool":
        kept.pop(0)
    system = [ChatMessage("system", instructions)] if instructions else []
    return system + kept


def heard_part(part: Content, played_ms: float) -> Content:
    """A reply's audio part cut at ``played_ms``: only the words heard stay in its transcript.
    The full length is kept, so a client's own (later, more exact) cut can still move it."""
    cut = min(part.audio_ms, max(played_ms, 0.0))
    return dataclasses.replace(part, heard_ms=cut, transcript=heard_text(list(part.sentences), cut))
