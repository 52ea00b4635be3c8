"""A worker handler for the worker tests: loaded by file path inside a real worker process.

Each method does one thing a real engine's worker may do (answer, stream, refuse, fail, crash,
hang), so the daemon side is tested against a genuine process and socket.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from typing import Any

from core.workers.protocol import RequestError

Reply = tuple[dict[str, Any], bytes]


class TestHandler:
    def __init__(self) -> None:
        self.loaded: dict[str, Any] | None = None

    def load(self, params: dict[str, Any], payload: bytes) -> dict[str, Any]:
        if params.get("fail"):
            raise RequestError("unavailable", "model file missing")
        self.loaded = params
        return {"pid": os.getpid(), "loaded": params}

    def echo(self, params: dict[str, Any], payload: bytes) -> Reply:
        return {"params": params, "size": len(payload)}, payload[::-1]

    def count(self, params: dict[str, Any], payload: bytes) -> Iterator[Reply]:
        for index in range(int(params["n"])):
            yield {"index": index}, bytes([index % 256]) * int(params.get("size", 1))
            time.sleep(float(params.get("delay", 0.0)))

    def refuse(self, params: dict[str, Any], payload: bytes) -> None:
        raise RequestError(str(params["kind"]), "refused on purpose", param="voice")

    def broken(self, params: dict[str, Any], payload: bytes) -> None:
        raise ValueError("a bug in the handler")

    def crash(self, params: dict[str, Any], payload: bytes) -> None:
        sys.stderr.write("about to crash\n")
        sys.stderr.flush()
        os._exit(int(params.get("code", 3)))

    def crash_midway(self, params: dict[str, Any], payload: bytes) -> Iterator[Reply]:
        yield {"index": 0}, b"x"
        os._exit(4)

    def sleep(self, params: dict[str, Any], payload: bytes) -> dict[str, Any]:
        time.sleep(float(params["seconds"]))
        return {}

    def freeze(self, params: dict[str, Any], payload: bytes) -> None:
        # Stops the whole process, reader thread included: only the ping timeout can notice.
        os.kill(os.getpid(), signal.SIGSTOP)
        time.sleep(3600)  # the stop lands asynchronously: never answer in between

    def environment(self, params: dict[str, Any], payload: bytes) -> dict[str, Any]:
        import core

        print("this goes to stderr, not into the protocol")
        return {
            "core": core.__file__,
            "sys_path": sys.path,
            "pid": os.getpid(),
            "environ": dict(os.environ),
        }


def create() -> TestHandler:
    return TestHandler()
