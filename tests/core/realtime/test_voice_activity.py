"""Speech, pauses and clicks, frame by frame."""

from __future__ import annotations

from core.realtime.voice_activity import Signal, VoiceActivity

FRAME = 512


def run(probabilities: list[float], confirm: int = 2 * FRAME) -> list[tuple[str, int]]:
    activity = VoiceActivity(0.5, confirm)
    changes = []
    for index, p in enumerate(probabilities):
        change = activity.push(p, index * FRAME, FRAME)
        if change is not None:
            changes.append((change.signal.value, change.sample // FRAME))
    return changes


def test_speech_is_confirmed_after_enough_of_it_and_dated_from_its_start() -> None:
    assert run([0.1, 0.9, 0.8, 0.9, 0.1]) == [("confirmed", 1), ("paused", 4)]


def test_a_click_is_not_speech() -> None:
    assert run([0.1, 0.9, 0.1, 0.1, 0.9, 0.05]) == []


def test_middling_frames_neither_confirm_nor_drop_pending_speech() -> None:
    # 0.4 is between the silence threshold (0.35) and the speech threshold (0.5).
    assert run([0.9, 0.4, 0.4, 0.9]) == [("confirmed", 0)]


def test_pauses_and_resumption() -> None:
    changes = run([0.9, 0.9, 0.9, 0.2, 0.2, 0.9, 0.9, 0.1])
    assert changes == [("confirmed", 0), ("paused", 3), ("resumed", 3), ("paused", 7)]


def test_reset_returns_to_silence() -> None:
    activity = VoiceActivity(0.5, FRAME)
    assert activity.push(0.9, 0, FRAME) is not None
    assert activity.speaking
    activity.reset()
    assert not activity.speaking
    change = activity.push(0.9, FRAME, FRAME)
    assert change is not None and change.signal is Signal.CONFIRMED
