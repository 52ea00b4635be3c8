"""A threaded HTTP server on a free loopback port, holding a test's state for its handler."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Generic, TypeVar

S = TypeVar("S")


class StateServer(ThreadingHTTPServer, Generic[S]):
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], state: S) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.state = state


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler], state: S) -> Iterator[str]:
    """Run ``handler`` with ``state`` on a free loopback port; yields its base URL."""
    server = StateServer(handler, state)
    # A short poll interval makes shutdown quick.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
