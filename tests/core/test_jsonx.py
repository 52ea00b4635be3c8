"""Fast JSON with the standard library's results, including the values orjson refuses."""

from __future__ import annotations

import json
import math
import sys

import pytest

from core import event_loop, jsonx


def test_round_trip_matches_the_standard_library() -> None:
    value = {"text": "héllo \u2028 世界", "n": [1, 2.5, None, True], "nested": {"a": []}}
    standard = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    assert jsonx.dumps(value) == standard
    assert jsonx.loads(jsonx.dumps(value)) == value


def test_values_orjson_refuses_still_work() -> None:
    huge = {"n": 2**70, 3: "int key"}
    assert jsonx.loads(jsonx.dumps(huge)) == {"n": 2**70, "3": "int key"}
    assert math.isnan(jsonx.loads(b'{"x": NaN}')["x"])
    assert jsonx.loads("[18446744073709551616]") == [2**64]
    with pytest.raises(ValueError):
        jsonx.loads(b"{nope")


def test_the_daemon_loop_can_be_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXGATE_EVENT_LOOP", "asyncio")
    assert event_loop.loop_factory() is None
    monkeypatch.delenv("VOXGATE_EVENT_LOOP")
    if sys.platform == "win32":
        pytest.skip(
            "uvicorn[standard] brings uvloop on Linux and macOS only; Windows keeps asyncio"
        )
    import uvloop

    assert event_loop.loop_factory() is uvloop.new_event_loop
    assert event_loop.run(_answer()) == 42


async def _answer() -> int:
    return 42
