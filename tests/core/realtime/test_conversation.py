"""Conversation items, the chat context, and cutting a reply at what was heard."""

from __future__ import annotations

import pytest

from core.realtime.conversation import (
    ROOT,
    Content,
    Conversation,
    Item,
    context_messages,
    heard_part,
)
from core.realtime.errors import RealtimeError
from core.realtime.spoken import SpokenSentence, heard_text, heard_words


def reply(item_id: str = "reply") -> Item:
    sentences = (
        SpokenSentence("One two three four.", 0, 1000),
        SpokenSentence("Five six seven.", 1000, 1600),
    )
    return Item(
        item_id,
        role="assistant",
        content=[
            Content(
                "output_audio",
                transcript="One two three four. Five six seven.",
                audio_ms=1600,
                sentences=sentences,
            )
        ],
    )


def test_words_count_as_heard_once_their_share_of_the_audio_has_played() -> None:
    sentence = SpokenSentence("aaaa bbbb cccc dddd", 0, 1900)  # 19 characters, 100 ms each
    assert heard_words(sentence, 399) == ""
    assert heard_words(sentence, 400) == "aaaa"
    assert heard_words(sentence, 1400) == "aaaa bbbb cccc"
    assert heard_words(sentence, 1900) == "aaaa bbbb cccc dddd"
    parts = [sentence, SpokenSentence("eeee", 1900, 2300)]
    assert heard_text(parts, 2000) == "aaaa bbbb cccc dddd"
    assert heard_text(parts, 0) == ""


def test_items_keep_their_order_and_previous_ids() -> None:
    conversation = Conversation(max_context_items=10)
    assert (
        conversation.add(Item("a", role="user", content=[Content("input_text", text="A")])) is None
    )
    assert (
        conversation.add(Item("b", role="user", content=[Content("input_text", text="B")])) == "a"
    )
    assert (
        conversation.add(Item("c", role="system", content=[Content("input_text", text="C")]), ROOT)
        is None
    )
    assert (
        conversation.add(Item("d", role="user", content=[Content("input_text", text="D")]), "a")
        == "a"
    )
    assert [i.id for i in conversation] == ["c", "a", "d", "b"]
    assert conversation.previous_of("b") == "d"
    with pytest.raises(RealtimeError) as duplicate:
        conversation.add(Item("a", role="user"))
    assert duplicate.value.code == "duplicate_item_id"
    with pytest.raises(RealtimeError) as unknown:
        conversation.add(Item("e", role="user"), "nope")
    assert unknown.value.param == "previous_item_id"
    conversation.delete("d")
    assert [i.id for i in conversation] == ["c", "a", "b"]


def test_root_is_no_items_id() -> None:
    """``previous_item_id: root`` means "first": an item named root could never be followed."""
    conversation = Conversation(max_context_items=10)
    with pytest.raises(RealtimeError) as reserved:
        conversation.add(Item(ROOT, role="user", content=[Content("input_text", text="A")]))
    assert reserved.value.param == "item.id"
    assert len(conversation) == 0


def test_past_its_cap_the_conversation_drops_its_oldest_items() -> None:
    dropped: list[str] = []
    conversation = Conversation(max_context_items=4, max_items=3, on_dropped=dropped.append)
    for name in "abcd":
        conversation.add(Item(name, role="user", content=[Content("input_text", text=name)]))
    assert [i.id for i in conversation] == ["b", "c", "d"]
    assert dropped == ["a"]
    # An item put first is kept: the oldest of the others goes instead.
    conversation.add(Item("e", role="system", content=[Content("input_text", text="E")]), ROOT)
    assert [i.id for i in conversation] == ["e", "c", "d"]
    assert dropped == ["a", "b"]
    with pytest.raises(RealtimeError):
        conversation.get("b")


def test_the_context_holds_instructions_and_the_latest_messages() -> None:
    conversation = Conversation(max_context_items=2)
    for index in range(4):
        conversation.add(
            Item(f"u{index}", role="user", content=[Content("input_text", text=f"q{index}")])
        )
    conversation.add(Item("silent", role="user", content=[Content("input_audio", transcript="")]))
    conversation.add(Item("call", type="function_call", name="f", arguments="{}"))
    messages = conversation.messages("Be brief.")
    # The silent item says nothing; the function call counts as a message of its own.
    assert [(m.role, m.content) for m in messages] == [
        ("system", "Be brief."),
        ("user", "q3"),
        ("assistant", ""),
    ]
    assert [t.name for t in messages[2].tool_calls] == ["f"]
    assert [m.content for m in conversation.messages("", leave_out="call")] == ["q2", "q3"]


def test_truncating_a_reply_keeps_only_heard_words_and_can_be_moved() -> None:
    conversation = Conversation(max_context_items=10)
    conversation.add(reply())
    conversation.truncate("reply", 0, 1300)
    part = conversation.get("reply").content[0]
    assert part.transcript == "One two three four. Five"
    assert part.heard_ms == 1300 and part.audio_ms == 1600
    # The client knows better than the server's estimate, in both directions.
    conversation.truncate("reply", 0, 500)
    assert conversation.get("reply").content[0].transcript == "One two"
    conversation.truncate("reply", 0, 1600)
    assert conversation.get("reply").content[0].transcript == "One two three four. Five six seven."
    assert [m.content for m in conversation.messages("")] == ["One two three four. Five six seven."]


@pytest.mark.parametrize(
    ("item_id", "index", "end", "param"),
    [
        ("nope", 0, 10, "item_id"),
        ("user", 0, 10, "item_id"),
        ("reply", 1, 10, "content_index"),
        ("reply", 0, 5000, "audio_end_ms"),
    ],
)
def test_bad_truncations(item_id: str, index: int, end: int, param: str) -> None:
    conversation = Conversation(max_context_items=10)
    conversation.add(reply())
    conversation.add(Item("user", role="user", content=[Content("input_text", text="hi")]))
    with pytest.raises(RealtimeError) as error:
        conversation.truncate(item_id, index, end)
    assert error.value.param == param


def test_heard_part_of_a_reply() -> None:
    part = reply().content[0]
    assert heard_part(part, 1000).transcript == "One two three four."
    assert heard_part(part, -5).transcript == ""


def test_function_calls_and_their_outputs_join_the_context() -> None:
    items = [
        Item("u1", role="user", content=[Content("input_text", text="Weather in Paris and Rome?")]),
        Item("c1", type="function_call", call_id="call_a", name="weather", arguments='{"c":"P"}'),
        Item("c2", type="function_call", call_id="call_b", name="weather", arguments='{"c":"R"}'),
        Item("o1", type="function_call_output", call_id="call_a", output="sunny"),
        Item("o2", type="function_call_output", call_id="call_b", output="rain"),
    ]
    messages = context_messages(items, "Be brief.", 10)
    assert [m.role for m in messages] == ["system", "user", "assistant", "tool", "tool"]
    calls = messages[2].tool_calls
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("call_a", "weather", '{"c":"P"}'),
        ("call_b", "weather", '{"c":"R"}'),
    ]
    assert (messages[3].tool_call_id, messages[3].content) == ("call_a", "sunny")
    # A context cut just after the calls never starts with an output whose call it lost.
    cut = context_messages(items, "", 2)
    assert cut == []
    cut = context_messages(
        [
            *items,
            Item(
                "a",
                role="assistant",
                content=[Content("output_text", text="Sunny in Paris, rain in Rome.")],
            ),
        ],
        "",
        2,
    )
    assert [m.role for m in cut] == ["assistant"]
