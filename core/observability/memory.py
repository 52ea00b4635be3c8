"""Giving memory back to the system after large requests (glibc's allocator).

A daemon that decodes a 25 MB upload or embeds a large batch allocates hundreds of MB for a
moment. glibc keeps freed memory for reuse: large blocks stop being returned once its adaptive
mmap threshold has grown, every thread may get an arena of its own (engines run in many short
threads), and free pages inside the heap are only released by an explicit trim. The resident
size then ratchets up with every large request. Two measures:

- at start, blocks of 1 MiB and more are always mapped on their own (returned on free), and the
  number of arenas is capped;
- when the daemon is idle, a periodic ``malloc_trim`` releases the free pages that remain.

Other C libraries (musl, macOS) are left alone: these calls are glibc's.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import os
from collections.abc import Callable
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_MMAP_AT_BYTES = 1 << 20
_ARENAS = 4


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def tune_allocator() -> bool:
    """Large blocks mapped on their own, arenas capped; call before threads and models start."""
    libc = _glibc()
    if libc is None:
        return False
    libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_AT_BYTES)
    libc.mallopt(_M_ARENA_MAX, _ARENAS)
    return True


def trim() -> bool:
    """Return free heap pages to the system; True if any were."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


def resident_bytes() -> int | None:
    try:
        pages = int(Path("/proc/self/statm").read_text(encoding="ascii").split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


async def trim_when_idle(busy: Callable[[], bool], interval: float) -> None:
    """Every ``interval`` seconds, trim if no request is running."""
    if _glibc() is None:
        return
    while True:
        await asyncio.sleep(interval)
        if busy():
            continue
        before = resident_bytes()
        released = await asyncio.to_thread(trim)
        after = resident_bytes()
        if released and before is not None and after is not None and before - after > 1 << 20:
            log.info("memory.released", mib=round((before - after) / (1 << 20), 1))
