"""What a web page in the user's browser can and cannot do to a daemon on loopback: DNS
rebinding (Host), cross-site posts and sockets (Origin), CORS for allowed pages, JSON-only
bodies; forwarded addresses from proxies; cheap size checks; work of a vanished client."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.types import Message
from starlette.websockets import WebSocketDisconnect

from core.api.app import create_app
from core.runtime.runtime import Runtime
from tests.support import WriteConfig
from tests.support.fake_plugin import CALLS
from tests.support.runtime import running_runtime

CONFIG = """\
server:
  cors_origins: [https://app.example.com]
  allowed_hosts: [voice.example.org, .lan.example.net]
  trusted_proxies: [10.9.0.0/16]
limits: {max_chat_messages: 5, max_embedding_chars: 100}
policy:
  engines:
    chat: {max_concurrency: 1}
engines:
  chat: {capability: llm, engine: fake, settings: {delay: 0.2, reply: "a b c d"}}
  vectors: {capability: embeddings, engine: fake}
routes: {llm: [chat], embeddings: [vectors]}
"""

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


def chat_scope(*headers: tuple[bytes, bytes]) -> dict[str, Any]:
    """The ASGI scope of a JSON chat request from a loopback client, for tests that play the
    server's part and feed the body themselves."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8765),
    }


@contextlib.asynccontextmanager
async def app_client(
    write_config: WriteConfig, peer: str = "127.0.0.1"
) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    async with running_runtime(write_config(CONFIG)) as runtime:
        app = create_app(runtime, manage_runtime=False)
        transport = httpx.ASGITransport(app=app, client=(peer, 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as c:
            yield c, runtime


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1:8765", True),
        ("[::1]:8765", True),
        ("localhost:8765", True),
        ("console.localhost", True),
        ("192.168.1.20:8765", True),  # an IP literal cannot be a rebound name
        ("voice.example.org", True),
        ("box.lan.example.net:8765", True),
        ("evil.example", False),
        ("evil.example:8765", False),
        ("127.0.0.1.evil.example", False),
    ],
)
async def test_host_names_the_daemon_or_is_refused(
    write_config: WriteConfig, host: str, allowed: bool
) -> None:
    async with app_client(write_config) as (client, _):
        response = await client.get("/v1/models", headers={"host": host})
        if allowed:
            assert response.status_code == 200, response.text
        else:
            assert response.status_code == 421
            assert response.json()["error"]["code"] == "host_not_allowed"
        # Rebinding is refused on the control plane too, loopback client or not.
        control = await client.post("/control/reload", headers={"host": host})
        assert (control.status_code != 421) is allowed


async def test_cross_site_posts_are_refused_and_the_control_plane_takes_none(
    write_config: WriteConfig,
) -> None:
    async with app_client(write_config) as (client, _):
        evil = {"origin": "https://evil.example"}
        reload = await client.post("/control/reload", headers=evil)
        assert reload.status_code == 403
        assert reload.json()["error"]["code"] == "cross_origin_refused"
        download = await client.post("/control/models/whisper-small/download", headers=evil)
        assert download.status_code == 403
        chat = await client.post("/v1/chat/completions", json=CHAT, headers=evil)
        assert chat.status_code == 403
        # Reads are harmless without CORS headers (the page cannot see the answer).
        listing = await client.get("/v1/models", headers=evil)
        assert listing.status_code == 200
        assert "access-control-allow-origin" not in listing.headers
        # Even an origin allowed on the data plane may not touch /control.
        allowed = {"origin": "https://app.example.com"}
        assert (await client.post("/control/reload", headers=allowed)).status_code == 403
        # Same origin (a page served by the daemon itself) and non-browser clients are fine.
        same = await client.post("/control/reload", headers={"origin": "http://127.0.0.1:8765"})
        assert same.status_code == 200
        assert (await client.post("/control/reload")).status_code == 200


async def test_cors_for_loopback_and_configured_pages_only(write_config: WriteConfig) -> None:
    async with app_client(write_config) as (client, _):
        for origin in ("http://localhost:5173", "http://127.0.0.1:3000", "https://app.example.com"):
            preflight = await client.options(
                "/v1/chat/completions",
                headers={
                    "origin": origin,
                    "access-control-request-method": "POST",
                    "access-control-request-headers": "authorization, content-type",
                },
            )
            assert preflight.status_code == 204, (origin, preflight.text)
            assert preflight.headers["access-control-allow-origin"] == origin
            assert "authorization" in preflight.headers["access-control-allow-headers"]
            chat = await client.post("/v1/chat/completions", json=CHAT, headers={"origin": origin})
            assert chat.status_code == 200
            assert chat.headers["access-control-allow-origin"] == origin
            assert "x-voxgate-engine" in chat.headers["access-control-expose-headers"]
        refused = await client.options(
            "/v1/chat/completions",
            headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
        )
        assert refused.status_code == 403
        assert "access-control-allow-origin" not in refused.headers
        control = await client.options(
            "/control/reload",
            headers={"origin": "http://localhost:5173", "access-control-request-method": "POST"},
        )
        assert control.status_code == 403


async def test_json_bodies_must_be_declared_json(write_config: WriteConfig) -> None:
    """A page can send text/plain or a form cross-site without asking; never JSON."""
    async with app_client(write_config) as (client, _):
        body = b'{"messages": [{"role": "user", "content": "hi"}]}'
        for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
            headers = {"content-type": content_type} if content_type else {}
            response = await client.post("/v1/chat/completions", content=body, headers=headers)
            assert response.status_code == 415, content_type
            assert response.json()["error"]["code"] == "unsupported_media_type"
        ok = await client.post(
            "/v1/chat/completions",
            content=body,
            headers={"content-type": "application/json; charset=utf-8"},
        )
        assert ok.status_code == 200


async def test_forwarded_addresses_count_only_from_trusted_proxies(
    write_config: WriteConfig,
) -> None:
    # A trusted proxy relaying a remote client: that client is not loopback.
    async with app_client(write_config, peer="10.9.0.4") as (client, _):
        remote = {"x-forwarded-for": "203.0.113.9"}
        assert (await client.get("/control/status", headers=remote)).status_code == 403
        # ... nor is a relayed request that names no client.
        assert (await client.get("/control/status")).status_code == 403
        # A client on the proxy's host, named by the proxy, is.
        local = {"x-forwarded-for": "203.0.113.9, 127.0.0.1"}
        assert (await client.get("/control/status", headers=local)).status_code == 200
    # An unconfigured proxy on this host: its relayed requests are not loopback either.
    async with app_client(write_config) as (client, _):
        relayed = await client.get("/control/status", headers={"x-forwarded-for": "198.51.100.7"})
        assert relayed.status_code == 403
        forwarded = await client.get("/control/status", headers={"forwarded": "for=198.51.100.7"})
        assert forwarded.status_code == 403
        assert (await client.get("/control/status")).status_code == 200
    # From an untrusted remote peer, a forged header changes nothing.
    async with app_client(write_config, peer="198.51.100.7") as (client, _):
        forged = await client.get("/control/status", headers={"x-forwarded-for": "127.0.0.1"})
        assert forged.status_code == 403


async def test_size_checks_come_before_any_engine(write_config: WriteConfig) -> None:
    async with app_client(write_config) as (client, _):
        many = {"messages": [{"role": "user", "content": "hi"}] * 6}
        response = await client.post("/v1/chat/completions", json=many)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "too_many_messages"
        big = await client.post("/v1/embeddings", json={"input": ["x" * 60, "y" * 60]})
        assert big.status_code == 413 and "100" in big.json()["error"]["message"]
        assert CALLS == {}  # no engine was asked


async def test_a_request_whose_client_left_is_abandoned(write_config: WriteConfig) -> None:
    """A queued or running non-streamed request stops when its client disconnects, and the
    engine goes to the next request at once instead of working for nobody."""
    async with running_runtime(write_config(CONFIG)) as runtime:
        app = create_app(runtime, manage_runtime=False)
        body = b'{"messages": [{"role": "user", "content": "hi"}]}'
        gone = asyncio.Event()
        sent: list[Message] = []

        async def receive() -> Message:
            if not sent:
                sent.append({"type": "http.request", "body": body, "more_body": False})
                return sent[-1]
            await gone.wait()
            return {"type": "http.disconnect"}

        replies: list[Message] = []

        async def send(message: Message) -> None:
            replies.append(message)

        request = asyncio.create_task(app(chat_scope(), receive, send))
        slot = runtime.current.slots["chat"]
        for _ in range(100):
            if slot.active:
                break
            await asyncio.sleep(0.01)
        assert slot.active == 1
        started = time.monotonic()
        gone.set()
        await asyncio.wait_for(request, 2)
        assert time.monotonic() - started < 0.5  # not the whole reply (4 words x 0.2 s)
        assert slot.active == 0
        assert not any(m["type"] == "http.response.start" for m in replies)


async def test_websockets_from_another_site_are_refused(write_config: WriteConfig) -> None:
    async with running_runtime(write_config(CONFIG)) as runtime:
        app = create_app(runtime, manage_runtime=False)
        path = "/v1/audio/transcriptions/stream?sample_rate=16000"

        def refusal(origin: str) -> WebSocketDisconnect:
            headers = {"origin": origin, "host": "127.0.0.1:8765"}
            with (
                TestClient(app) as client,
                pytest.raises(WebSocketDisconnect) as closed,
                client.websocket_connect(path, headers=headers) as ws,
            ):
                while True:
                    ws.receive_text()
            return closed.value

        # The handshake is answered 403 with the reason in an OpenAI-shaped body.
        refused = refusal("https://evil.example")
        assert isinstance(refused, WebSocketDenialResponse)
        assert refused.status_code == 403
        assert "not allowed" in refused.json()["error"]["message"]
        # A page of this machine gets through to the endpoint itself (which then says this
        # config has no VAD engine: a reason of its own, not the guard's).
        closed = refusal("http://localhost:5173")
        assert not isinstance(closed, WebSocketDenialResponse)
        assert "not allowed" not in closed.reason and "vad" in closed.reason.lower()


async def test_a_client_gone_while_its_body_arrives_is_no_server_error(
    write_config: WriteConfig,
) -> None:
    """The body stops half-way and the client disconnects: counted as gone, never as a 500
    with a traceback, and the exception does not escape the app."""
    async with running_runtime(write_config(CONFIG)) as runtime:
        app = create_app(runtime, manage_runtime=False)
        arriving: list[Message] = [
            {"type": "http.request", "body": b'{"messages": [{"role"', "more_body": True},
            {"type": "http.disconnect"},
        ]

        async def receive() -> Message:
            return arriving.pop(0) if len(arriving) > 1 else arriving[0]

        replies: list[Message] = []

        async def send(message: Message) -> None:
            replies.append(message)

        scope = chat_scope((b"content-length", b"60"))
        await asyncio.wait_for(app(scope, receive, send), 5)
        statuses = [m["status"] for m in replies if m["type"] == "http.response.start"]
        assert statuses == [499]
