"""The front door of a real daemon process under slow and oversized clients: request heads
have a deadline and a size cap, bodies an idle deadline, and a flood of slow sockets past the
connection cap does not keep /healthz from answering."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import WriteConfig
from tests.support.daemon import Daemon
from tests.support.plugin_dist import fake_plugin_env

CONFIG = """\
reload: {watch: false}
server:
  max_connections: 40
  header_timeout: 1
  body_timeout: 1
  send_timeout: 1
  max_header_bytes: 8KB
policy:
  engines:
    voice: {max_concurrency: 1, max_queue: 0}
engines:
  chat: {capability: llm, engine: fake}
  voice: {capability: tts, engine: fake, settings: {chunks: 3000}}
routes: {llm: [chat], tts: [voice]}
"""


@pytest.fixture
def daemon(write_config: WriteConfig, tmp_path: Path) -> Iterator[Daemon]:
    running = Daemon(write_config(CONFIG), fake_plugin_env(tmp_path))
    try:
        yield running
    finally:
        running.stop()


def connect(daemon: Daemon) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
    return sock


def answer(sock: socket.socket) -> bytes:
    """What the daemon sent before closing (b"" when it closed without a word)."""
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (ConnectionResetError, TimeoutError):
        pass
    return b"".join(chunks)


def test_a_head_that_never_ends_is_cut_off(daemon: Daemon) -> None:
    sock = connect(daemon)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    started = time.monotonic()
    reply = answer(sock)
    assert time.monotonic() - started < 4  # the 1 s deadline, not forever
    assert reply.startswith(b"HTTP/1.1 408")
    # A connection that says nothing at all is closed quietly.
    silent = connect(daemon)
    assert answer(silent) == b""


def test_an_oversized_head_is_refused_with_431(daemon: Daemon) -> None:
    sock = connect(daemon)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    try:
        for _ in range(4):
            sock.sendall(b"X-Filler: " + b"a" * 4000 + b"\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert answer(sock).startswith(b"HTTP/1.1 431")
    assert httpx.get(daemon.url + "/healthz").status_code == 200


def test_a_body_that_stops_arriving_is_dropped(daemon: Daemon) -> None:
    sock = connect(daemon)
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"messages": '
    )
    started = time.monotonic()
    answer(sock)
    assert time.monotonic() - started < 4
    assert httpx.get(daemon.url + "/healthz").status_code == 200


def test_a_client_that_reads_nothing_of_its_answer_is_cut_off(daemon: Daemon) -> None:
    """Speech for a client that never reads holds the only TTS slot while its answer (300 s of
    audio, more than the sockets' buffers hold) waits; past the send deadline the connection is
    dropped and the engine serves others again."""
    body = json.dumps({"model": "tts", "input": "hello", "response_format": "pcm"}).encode()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", daemon.port))
    try:
        sock.sendall(
            b"POST /v1/audio/speech HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        )
        status = daemon.url + "/control/status"
        deadline = time.monotonic() + 60
        while httpx.get(status).json()["engines"]["voice"]["active"] != 1:
            assert time.monotonic() < deadline, "the speech request never started"
            time.sleep(0.05)
        speech = {"model": "tts", "input": "hi", "response_format": "wav"}
        while (
            response := httpx.post(daemon.url + "/v1/audio/speech", json=speech)
        ).status_code != 200:
            assert response.status_code == 429, response.text  # the slot is still held
            assert time.monotonic() < deadline, "the engine stayed held"
            time.sleep(0.2)
        assert "connection.send_timeout" in daemon.log_tail(200_000)
    finally:
        sock.close()


def test_requests_sent_far_ahead_of_their_answers_are_cut_off(daemon: Daemon) -> None:
    """A client that pipelines requests without reading the answers: every request it sent
    would be queued. Past the cap the connection is dropped instead."""
    count = 20_000
    sock = connect(daemon)
    with contextlib.suppress(OSError):
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * count)
    assert answer(sock).count(b"HTTP/1.1 200") < count
    assert "connection.pipeline_too_deep" in daemon.log_tail(200_000)
    # A few pipelined requests are still answered, each of them.
    sock = connect(daemon)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 8)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert answer(sock).count(b"HTTP/1.1 200") == 9


def test_healthz_answers_through_a_flood_of_slow_sockets(daemon: Daemon) -> None:
    """Three times the connection cap in sockets that trickle a head: the longest-waiting are
    closed to make room, so a real request (which sends its head at once) always gets in."""
    slow: list[socket.socket] = []
    try:
        for _ in range(120):
            sock = connect(daemon)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            slow.append(sock)
        answered = 0
        for _ in range(10):
            response = httpx.get(daemon.url + "/healthz", headers={"connection": "close"})
            answered += response.status_code == 200
        assert answered == 10
        log = daemon.log_tail(200_000)
        assert "connection.evicted" in log
    finally:
        for sock in slow:
            sock.close()


def test_a_flood_of_busy_connections_is_refused_not_queued(daemon: Daemon) -> None:
    """When every connection is inside a request, one more gets a 503 at once."""
    busy: list[socket.socket] = []
    try:
        for _ in range(40):
            sock = connect(daemon)
            # A whole head, then a body that is still coming: busy, not waiting for a head.
            sock.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
            )
            busy.append(sock)
        time.sleep(0.2)
        extra = connect(daemon)
        assert answer(extra).startswith(b"HTTP/1.1 503")
    finally:
        for sock in busy:
            sock.close()
    # Once they are gone (closed, or cut off by the body deadline) the daemon serves again.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if httpx.get(daemon.url + "/healthz").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    assert httpx.get(daemon.url + "/healthz").status_code == 200
