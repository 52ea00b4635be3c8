"""An OpenAI-compatible chat server that answers at once with a fixed completion.

It stands in for a cloud provider when the cost of a gateway in front of it is measured: a bare
asyncio protocol (no framework), keep-alive HTTP/1.1, ``POST .../chat/completions`` answered
with a fixed JSON completion, or the same reply as server-sent events when the body asks for
``"stream": true``. Anything else is a 404.

    python -m bench.fake_openai PORT
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

REPLY = "The capital of France is Paris."


def completion_json(model: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-fixed",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": REPLY, "refusal": None},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 14, "completion_tokens": 8, "total_tokens": 22},
            "system_fingerprint": None,
        },
        separators=(",", ":"),
    ).encode()


def completion_events(model: str) -> bytes:
    base = {"id": "chatcmpl-fixed", "object": "chat.completion.chunk", "created": 0, "model": model}
    events = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
    for word in REPLY.split(" "):
        piece = {"index": 0, "delta": {"content": word + " "}, "finish_reason": None}
        events.append({**base, "choices": [piece]})
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    usage = {"prompt_tokens": 14, "completion_tokens": 8, "total_tokens": 22}
    events.append({**base, "choices": [], "usage": usage})
    lines = [b"data: " + json.dumps(e, separators=(",", ":")).encode() + b"\n\n" for e in events]
    return b"".join(lines) + b"data: [DONE]\n\n"


def response(status: bytes, content_type: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: " + content_type + b"\r\ncontent-length: "
        b"" + str(len(body)).encode() + b"\r\n\r\n" + body
    )


class FakeOpenAI(asyncio.Protocol):
    """One connection: requests are answered in order as soon as their body is in."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            body, self.buffer = self.buffer[head_end + 4 : end], self.buffer[end:]
            assert self.transport is not None
            self.transport.write(answer(head.split(" ", 2)[1], body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


def answer(path: str, body: bytes) -> bytes:
    if not path.split("?", 1)[0].endswith("/chat/completions"):
        return response(b"404 Not Found", b"application/json", b'{"error":{"message":"no"}}')
    request = json.loads(body)
    model = str(request.get("model", "fake"))
    if request.get("stream"):
        return response(b"200 OK", b"text/event-stream", completion_events(model))
    return response(b"200 OK", b"application/json", completion_json(model))


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(FakeOpenAI, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    try:
        import uvloop

        run = uvloop.run
    except ImportError:
        run = asyncio.run
    run(serve(int(sys.argv[1])))


if __name__ == "__main__":
    main()
