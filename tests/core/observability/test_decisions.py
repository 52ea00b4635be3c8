"""The ring of recent routing decisions stays bounded and reads newest first."""

from __future__ import annotations

from core.observability.decisions import RecentDecisions


def test_the_ring_keeps_the_newest_decisions() -> None:
    ring = RecentDecisions(size=3)
    for n in range(5):
        ring.record("llm", f"engine{n}", [])
    assert [d.engine for d in ring.newest()] == ["engine4", "engine3", "engine2"]
    assert [d.engine for d in ring.newest(1)] == ["engine4"]


def test_a_decision_says_what_was_skipped_and_why() -> None:
    ring = RecentDecisions()
    ring.record("tts", "edge", [("hibari", "timeout", "no audio within 30s")])
    ring.record("stt", None, [("whisper", "breaker_open", "retry in 3.0s")])
    exhausted, served = (d.as_dict() for d in ring.newest())
    assert served["fell_back"] is True
    assert served["outcome"] == "served"
    assert served["skipped"] == [
        {"engine": "hibari", "reason": "timeout", "message": "no audio within 30s"}
    ]
    assert exhausted["outcome"] == "exhausted"
    assert exhausted["engine"] is None
