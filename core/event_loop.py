"""The event loop the daemon runs on: uvloop where it is installed, asyncio's own otherwise.

uvloop (a dependency through ``uvicorn[standard]`` on Linux and macOS) runs the same code with a
fraction of asyncio's per-callback cost: on the cloud path, where the daemon mostly moves bytes
between two sockets, that is a large share of its CPU time per request. ``VOXGATE_EVENT_LOOP=
asyncio`` keeps the standard loop (to compare, or to rule uvloop out while chasing a problem).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop constructor, or None for asyncio's default."""
    if os.environ.get("VOXGATE_EVENT_LOOP", "").strip().lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the loop :func:`loop_factory` picks."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
