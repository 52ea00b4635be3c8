"""Memory freed after a large request goes back to the system (glibc's allocator).

The heap case is the one that ratchets: blocks below the mmap threshold freed under a block that
is still alive stay resident until something trims the heap. The allocation runs in a child
process so that the test's own heap does not blur the figures.
"""

from __future__ import annotations

import asyncio
import ctypes.util
import json
import subprocess
import sys
import textwrap

import pytest

from core.observability import memory

glibc_only = pytest.mark.skipif(
    memory._glibc() is None, reason="the allocator tuning applies to glibc only"
)

_CHILD = textwrap.dedent(
    """
    import json, sys
    from core.observability.memory import resident_bytes, trim, tune_allocator

    tune_allocator()
    base = resident_bytes()
    # 160 MiB in 64 KiB blocks (heap, not mmap), then one live block above them pins the top.
    blocks = [bytearray(b"x" * (64 << 10)) for _ in range(2560)]
    pin = bytearray(256 << 10)  # larger than any hole the blocks left, so it comes from the top
    peak = resident_bytes()
    del blocks
    freed = resident_bytes()
    trimmed = trim() if sys.argv[1] == "trim" else False
    after = resident_bytes()
    print(json.dumps({"base": base, "peak": peak, "freed": freed, "after": after,
                      "trimmed": trimmed, "pin": len(pin)}))
    """
)
MIB = 1 << 20


def _run_child(mode: str) -> dict[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, mode], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    figures: dict[str, int] = json.loads(done.stdout)
    return figures


@glibc_only
def test_freed_heap_blocks_stay_resident_until_trimmed() -> None:
    # Without the trim the freed blocks stay: this is the ratchet the daemon's idle trim undoes.
    kept = _run_child("keep")
    assert kept["peak"] - kept["base"] > 150 * MIB
    assert kept["after"] - kept["base"] > 100 * MIB

    trimmed = _run_child("trim")
    assert trimmed["trimmed"]
    assert trimmed["after"] - trimmed["base"] < 20 * MIB


@glibc_only
def test_blocks_of_32_mib_and_more_are_mapped_and_returned_on_free() -> None:
    script = textwrap.dedent(
        """
        import json
        from core.observability.memory import resident_bytes, tune_allocator
        tune_allocator()
        base = resident_bytes()
        big = bytearray(b"z" * (200 << 20))
        peak = resident_bytes()
        del big
        print(json.dumps({"base": base, "peak": peak, "after": resident_bytes()}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["peak"] - figures["base"] > 190 * MIB
    assert figures["after"] - figures["base"] < 20 * MIB


async def test_the_idle_trim_waits_for_requests_to_finish(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if memory._glibc() is None:
        pytest.skip("the idle trim runs on glibc only")
    calls: list[bool] = []
    busy = True

    def counted_trim() -> bool:
        calls.append(busy)
        return False

    monkeypatch.setattr(memory, "trim", counted_trim)
    task = asyncio.create_task(memory.trim_when_idle(lambda: busy, 0.01))
    try:
        await asyncio.sleep(0.1)
        assert calls == []  # a request was running the whole time
        busy = False
        for _ in range(200):
            if calls:
                break
            await asyncio.sleep(0.01)
        assert calls and not any(calls)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_resident_size_is_read_from_proc() -> None:
    if ctypes.util.find_library("c") is None or sys.platform != "linux":
        pytest.skip("/proc/self/statm is Linux's")
    size = memory.resident_bytes()
    assert size is not None and size > 10 * MIB
