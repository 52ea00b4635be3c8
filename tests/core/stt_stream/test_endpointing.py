"""Speech start/end decisions from frame probabilities (Silero's rules), frame by frame."""

from __future__ import annotations

import pytest

from core.stt_stream.endpointing import Change, Endpointer, EndpointingOptions, Transition

FRAME = 512
RATE = 16000  # one frame is 32 ms


def run(probabilities: list[float], **options: int | float) -> list[Transition]:
    endpointer = Endpointer(EndpointingOptions(**options), FRAME, RATE)  # type: ignore[arg-type]
    seen = [t for p in probabilities if (t := endpointer.push(p)) is not None]
    last = endpointer.finish()
    return [*seen, last] if last is not None else seen


def test_speech_ends_after_enough_silence() -> None:
    # 10 frames of speech, then 20 of silence; 160 ms (5 frames) of silence ends it.
    transitions = run([0.9] * 10 + [0.05] * 20, min_silence_ms=160, min_speech_ms=100)
    assert transitions == [
        Transition(Change.STARTED, 0, 0),
        Transition(Change.ENDED, 0, 10 * FRAME),
    ]


def test_a_short_pause_does_not_split_speech() -> None:
    probabilities = [0.9] * 10 + [0.05] * 3 + [0.9] * 10 + [0.05] * 10
    transitions = run(probabilities, min_silence_ms=160, min_speech_ms=100)
    assert [t.change for t in transitions] == [Change.STARTED, Change.ENDED]
    assert transitions[-1].end == 23 * FRAME


def test_probabilities_between_the_thresholds_neither_end_nor_extend_a_pause() -> None:
    # 0.4 is below 0.5 (no new speech) but above 0.35 (not silence): the pause keeps counting
    # from its first silent frame.
    probabilities = [0.9] * 5 + [0.1, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4]
    transitions = run(probabilities, min_silence_ms=160, min_speech_ms=0)
    assert transitions[-1] == Transition(Change.ENDED, 0, 5 * FRAME)


def test_hysteresis_keeps_speech_going_in_the_grey_zone() -> None:
    probabilities = [0.9] * 5 + [0.4] * 30
    transitions = run(probabilities, min_silence_ms=160)
    assert [t.change for t in transitions] == [Change.STARTED, Change.ENDED]
    assert transitions[-1].end == 35 * FRAME  # closed only by the end of the audio


def test_a_blip_shorter_than_min_speech_is_dropped() -> None:
    transitions = run([0.05] * 5 + [0.9] * 2 + [0.05] * 10, min_silence_ms=100, min_speech_ms=250)
    assert transitions == [
        Transition(Change.STARTED, 5 * FRAME, 5 * FRAME),
        Transition(Change.DROPPED, 5 * FRAME, 7 * FRAME),
    ]


def test_speech_running_to_the_end_is_closed_by_finish() -> None:
    endpointer = Endpointer(EndpointingOptions(min_speech_ms=50), FRAME, RATE)
    for p in [0.1, 0.9, 0.9, 0.9]:
        endpointer.push(p)
    assert endpointer.in_speech
    assert endpointer.finish(total=3 * FRAME + 100) == Transition(
        Change.ENDED, FRAME, 3 * FRAME + 100
    )
    assert not endpointer.in_speech
    assert endpointer.finish() is None


def test_cut_restarts_speech_at_the_current_position() -> None:
    endpointer = Endpointer(EndpointingOptions(), FRAME, RATE)
    for p in [0.9] * 4:
        endpointer.push(p)
    assert endpointer.cut() == 4 * FRAME
    assert endpointer.speech_start == 4 * FRAME


@pytest.mark.parametrize(
    "options",
    [{"threshold": 0}, {"threshold": 1.2}, {"neg_threshold": 0.7}, {"min_silence_ms": -1}],
)
def test_bad_options_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        EndpointingOptions(**options)  # type: ignore[arg-type]
