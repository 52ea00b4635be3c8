"""Stop sequences over text that arrives in pieces."""

from __future__ import annotations

from plugins.llm_local.stops import StopMatcher


def feed_all(matcher: StopMatcher, pieces: list[str]) -> str:
    sent = []
    for piece in pieces:
        sent.append(matcher.feed(piece))
        if matcher.stopped:
            return "".join(sent)
    return "".join(sent) + matcher.flush()


def test_text_before_a_stop_split_across_pieces_is_sent_and_the_stop_is_not() -> None:
    matcher = StopMatcher(["END"])
    assert feed_all(matcher, ["Hello E", "N", "D and more"]) == "Hello "
    assert matcher.stopped


def test_a_possible_start_of_a_stop_is_held_back_until_it_is_decided() -> None:
    matcher = StopMatcher(["</s>"])
    assert matcher.feed("one <") == "one "
    assert matcher.feed("/") == ""
    assert matcher.feed("x") == "</x"
    assert not matcher.stopped


def test_held_text_is_released_when_the_reply_ends_without_a_stop() -> None:
    matcher = StopMatcher(["###"])
    assert feed_all(matcher, ["a #", "#"]) == "a ##"
    assert not matcher.stopped


def test_the_earliest_of_several_stops_wins() -> None:
    matcher = StopMatcher(["world", "lo"])
    assert feed_all(matcher, ["hello world"]) == "hel"


def test_without_stops_everything_passes_at_once() -> None:
    matcher = StopMatcher(["", ""])
    assert matcher.feed("abc") == "abc"
    assert matcher.flush() == ""
