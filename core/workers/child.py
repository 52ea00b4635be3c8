"""The worker process: serves one engine handler over the socket the daemon handed it.

Run as a script by another Python interpreter (usually a plugin's own virtual environment)::

    python -E -s .../core/workers/child.py --fd N --handler /path/to/handler.py:factory

Only the standard library and voxgate's ``core`` package (for the protocol) are imported here;
the handler file imports its engine libraries itself. The main thread reads messages and answers
pings at once, even while a model is busy; requests run one at a time on a second thread, in the
order they arrived. When the daemon goes away the socket closes and the process exits.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import os
import queue
import socket
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

_PROJECT_ROOT = Path(__file__).resolve().parents[2]


class _ProjectOnly(importlib.abc.MetaPathFinder):
    """Resolves voxgate's ``core`` package from its source tree and nothing else from there.

    Putting the whole project (or the daemon's site-packages) on ``sys.path`` would let the
    daemon's libraries shadow the worker environment's own versions.
    """

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "core":
            return None
        return importlib.machinery.PathFinder.find_spec(fullname, [str(_PROJECT_ROOT)])


def _bootstrap() -> None:
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if p and str(Path(p).resolve()) != here]
    sys.meta_path.insert(0, _ProjectOnly())


def _load_handler(spec: str) -> Any:
    """Build the handler from ``/path/file.py:factory``."""
    file, _, factory = spec.rpartition(":")
    if not file or not factory:
        raise SystemExit(f"--handler must be FILE:FACTORY, not {spec!r}")
    from core.workers.module_file import load_module_file

    try:
        module = load_module_file(file, "voxgate_worker_handler")
    except ImportError as exc:
        raise SystemExit(f"cannot load handler file {file}: {exc}") from exc
    return getattr(module, factory)()


class _Server:
    def __init__(self, sock: socket.socket, handler: Any) -> None:
        from core.workers import protocol

        self.protocol = protocol
        self.sock = sock
        self.handler = handler
        self.write_lock = threading.Lock()
        self.jobs: queue.Queue[Any] = queue.Queue()
        self.cancelled: set[int] = set()
        self.busy: str | None = None

    def send(self, header: dict[str, Any], payload: bytes = b"") -> None:
        with self.write_lock:
            self.protocol.write_message(self.sock, header, payload)

    def serve(self) -> None:
        self.send(
            {
                "type": "hello",
                "pid": os.getpid(),
                "python": sys.version.split()[0],
                "protocol": self.protocol.VERSION,
            }
        )
        threading.Thread(target=self._run_jobs, name="worker-jobs", daemon=True).start()
        while True:
            message = self.protocol.read_message(self.sock)
            if message is None or message.type == "shutdown":
                return
            if message.type == "ping":
                self.send({"type": "pong", "id": message.id, "busy": self.busy})
            elif message.type == "cancel" and message.id is not None:
                self.cancelled.add(message.id)
            elif message.type in ("call", "stream"):
                self.jobs.put(message)
            else:
                self.send(
                    {
                        "type": "error",
                        "id": message.id,
                        "kind": "error",
                        "message": f"unknown message type {message.type!r}",
                    }
                )

    # -- the job thread ----------------------------------------------------------------------

    def _run_jobs(self) -> None:
        while True:
            message = self.jobs.get()
            request_id = message.id
            if request_id in self.cancelled:
                self.cancelled.discard(request_id)
                continue
            method = str(message.header.get("method", ""))
            self.busy = method
            try:
                self._run(message, request_id, method)
            except OSError:
                return  # the daemon has gone; the main thread exits too
            finally:
                self.busy = None
                self.cancelled.discard(request_id)

    def _run(self, message: Any, request_id: int | None, method: str) -> None:
        function = getattr(self.handler, method, None) if not method.startswith("_") else None
        if not callable(function):
            self._fail(request_id, self.protocol.RequestError("error", f"no method {method!r}"))
            return
        params = message.header.get("params") or {}
        try:
            result = function(params, message.payload)
            if message.type == "call":
                value, payload = _split(result)
                self.send({"type": "result", "id": request_id, "value": value}, payload)
                return
            for item in _iterate(result):
                if request_id in self.cancelled:
                    close = getattr(result, "close", None)
                    if close is not None:
                        close()
                    break
                value, payload = _split(item)
                self.send({"type": "item", "id": request_id, "value": value}, payload)
            self.send({"type": "end", "id": request_id})
        except OSError:
            raise
        except Exception as exc:  # reported to the daemon, which decides what the client sees
            if not isinstance(exc, self.protocol.RequestError):
                traceback.print_exc()
            self._fail(request_id, exc)

    def _fail(self, request_id: int | None, exc: Exception) -> None:
        kind = getattr(exc, "kind", "error")
        text = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        self.send(
            {
                "type": "error",
                "id": request_id,
                "kind": kind,
                "message": text,
                "param": getattr(exc, "param", None),
            }
        )


def _split(result: Any) -> tuple[Any, bytes]:
    """Handlers return a JSON-able value, or (value, payload bytes)."""
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], bytes | bytearray):
        return result[0], bytes(result[1])
    return result, b""


def _iterate(result: Any) -> Iterator[Any]:
    if result is None:
        return iter(())
    return iter(result)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="voxgate engine worker")
    parser.add_argument("--fd", type=int, required=True, help="socket inherited from the daemon")
    parser.add_argument("--handler", required=True, help="FILE:FACTORY building the handler")
    args = parser.parse_args(argv)
    _bootstrap()
    # Libraries print banners and warnings to stdout; the protocol has its own socket, and
    # everything printed goes to stderr, which the daemon logs.
    os.dup2(2, 1)
    sock = socket.socket(fileno=args.fd)
    handler = _load_handler(args.handler)
    _Server(sock, handler).serve()
    sys.stderr.flush()
    # Skip interpreter teardown: a model run still on the job thread must not delay the exit.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
