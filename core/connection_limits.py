"""Limits on the HTTP connections themselves, before any request reaches the app.

uvicorn reads a request head for as long as the client cares to send it, accepts heads of any
size and never closes a connection that has not sent a whole request yet: a few hundred sockets
that trickle bytes (slowloris) use up the file descriptors and nothing else gets in, health
checks included. This protocol adds what a front door needs:

- a deadline for each request head (``server.header_timeout``), from the connection's start or
  the end of the previous response;
- a cap on the head's size (``server.max_header_bytes``, answered 431);
- a deadline between pieces of a request body (``server.body_timeout``);
- a deadline for a client that reads nothing of its response (``server.send_timeout``): the
  response waits for it with its engine still held, and closing the connection would wait for
  the unread bytes to go out, so the connection is aborted;
- a cap on requests sent ahead of their answers (HTTP pipelining): uvicorn queues each one and
  reads on after every answer, so a client sending requests without reading the answers would
  make it queue without bound; past the cap the connection is dropped;
- a cap on open connections (``server.max_connections``). A new connection is never simply
  dropped while the cap is held by idle ones: the connection that has waited longest without a
  complete request head is closed to make room, so a flood of slow sockets keeps cycling while
  real requests, which send their head at once, get through. Only when every connection is busy
  with a request is the new one refused (503).

WebSocket connections leave this protocol after their handshake and are not counted as idle.
"""

from __future__ import annotations

import asyncio
import resource
from dataclasses import dataclass
from typing import Any

import structlog
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int
    header_timeout: float
    body_timeout: float
    max_header_bytes: int
    send_timeout: float


class _HeadTooLarge(Exception):
    pass


#: Requests queued behind the one being answered on one connection; clients that pipeline
#: (rare) send a few.
MAX_PIPELINED = 64

_REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\nretry-after: 1\r\n"
    b"connection: close\r\ncontent-length: 25\r\n\r\ntoo many open connections"
)


def _plain(status: bytes, text: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain\r\nconnection: close\r\n"
        b"content-length: " + str(len(text)).encode() + b"\r\n\r\n" + text
    )


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with head/body deadlines, a head size cap and eviction."""

    limits: ConnectionLimits  # set on the subclass made by :func:`guarded_protocol`

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._head_too_large = False
        #: When this connection started waiting for a request head; None while one is handled.
        self._waiting_since: float | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._body_seen = 0.0
        self._send_timer: asyncio.TimerHandle | None = None

    # -- connection ----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        full = len(self.connections) >= self.limits.max_connections
        evicted = self._evict_longest_waiting() if full else True
        super().connection_made(transport)
        if not evicted:
            log.warning("connection.refused", open=len(self.connections))
            transport.write(_REFUSED)
            transport.close()
            return
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def _evict_longest_waiting(self) -> bool:
        waiting = [
            c
            for c in self.connections
            if isinstance(c, GuardedHttpProtocol) and c._waiting_since is not None
        ]
        if not waiting:
            return False
        oldest = min(waiting, key=lambda c: c._waiting_since or 0.0)
        oldest._cancel_timers()
        oldest._waiting_since = None
        oldest.transport.close()
        log.info("connection.evicted", reason="idle_at_cap")
        return True

    # -- the request head ----------------------------------------------------------------------

    def _await_head(self) -> None:
        self._waiting_since = self.loop.time()
        self._head_bytes = 0
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(
                self.limits.header_timeout, self._head_timed_out
            )

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._waiting_since is None or self.transport.is_closing():
            return
        log.info("connection.head_timeout", received=self._head_bytes)
        if self._head_bytes:
            self.transport.write(_plain(b"408 Request Timeout", b"request head took too long"))
        self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        if self._head_timer is None:  # a pipelined request: its head gets its own deadline
            self._await_head()

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.limits.max_header_bytes:
            self._head_too_large = True
            raise _HeadTooLarge  # httptools stops parsing; uvicorn answers via send_400_response

    def send_400_response(self, msg: str) -> None:
        if not self._head_too_large:
            super().send_400_response(msg)
            return
        log.warning("connection.head_too_large", limit=self.limits.max_header_bytes)
        text = f"request head larger than {self.limits.max_header_bytes} bytes".encode()
        self.transport.write(_plain(b"431 Request Header Fields Too Large", text))
        self.transport.close()

    def on_headers_complete(self) -> None:
        self._waiting_since = None
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().on_headers_complete()
        if len(self.pipeline) > MAX_PIPELINED:
            if not self.transport.is_closing():  # the rest of what was read still parses
                log.warning("connection.pipeline_too_deep", queued=len(self.pipeline))
                self.transport.abort()
            self.pipeline.clear()
            return
        if not self.transport.is_closing() and self.cycle is not None:
            self._body_seen = self.loop.time()
            self._body_timer = self.loop.call_later(self.limits.body_timeout, self._body_timed_out)

    # -- the request body ----------------------------------------------------------------------

    def on_body(self, body: bytes) -> None:
        self._body_seen = self.loop.time()
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().on_message_complete()

    def _body_timed_out(self) -> None:
        self._body_timer = None
        if self.transport.is_closing() or self.cycle is None or not self.cycle.more_body:
            return
        idle = self.loop.time() - self._body_seen
        if idle < self.limits.body_timeout:
            self._body_timer = self.loop.call_later(
                self.limits.body_timeout - idle, self._body_timed_out
            )
            return
        log.info("connection.body_timeout", idle=round(idle, 1))
        self.transport.close()  # the app sees a disconnect and drops the request

    # -- the response ------------------------------------------------------------------------------

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._send_timer is None:
            self._send_timer = self.loop.call_later(self.limits.send_timeout, self._send_timed_out)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None

    def _send_timed_out(self) -> None:
        self._send_timer = None
        log.info("connection.send_timeout", seconds=self.limits.send_timeout)
        self.transport.abort()  # the app sees a disconnect and stops the response

    # -- between requests ----------------------------------------------------------------------

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:
            self._await_head()

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer, self._send_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = self._send_timer = None


def guarded_protocol(limits: ConnectionLimits) -> type[GuardedHttpProtocol]:
    """The protocol class uvicorn should use (``uvicorn.Config(http=...)``) for these limits."""
    return type("GuardedHttpProtocolWithLimits", (GuardedHttpProtocol,), {"limits": limits})


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft open-files limit so ``wanted`` descriptors fit; returns the limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted or soft == resource.RLIM_INFINITY:
        return int(soft)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return int(soft)
    return int(target)
