"""Driving /v1/realtime with the official openai client, checking every server event against the
openai package's own event types (GA, or beta for beta connections)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import openai
import soundfile
from openai.types.beta.realtime import RealtimeServerEvent as BetaServerEvent
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter, ValidationError

from core.audio.chunk import AudioChunk
from core.audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from core.audio.resample import resample

GA_EVENTS: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)
BETA_EVENTS: TypeAdapter[Any] = TypeAdapter(BetaServerEvent)
PCM_RATE = 24_000


def check_event(data: dict[str, Any], *, beta: bool) -> None:
    """Raise AssertionError unless ``data`` is a valid server event of the openai package."""
    adapter = BETA_EVENTS if beta else GA_EVENTS
    try:
        adapter.validate_python(data)
    except ValidationError as exc:
        raise AssertionError(f"invalid {data.get('type')} event: {exc}\n{data}") from None


class Session:
    """A realtime connection whose server events are read (and validated) in the background."""

    def __init__(self, connection: Any, *, beta: bool) -> None:
        self.connection = connection
        self.beta = beta
        self.events: list[dict[str, Any]] = []
        #: perf_counter() time each event arrived, in the same order.
        self.arrived: list[float] = []
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())
        self.closed = asyncio.Event()

    async def _read(self) -> None:
        try:
            while True:
                raw = await self.connection.recv_bytes()
                data = json.loads(raw)
                check_event(data, beta=self.beta)
                self.events.append(data)
                self.arrived.append(time.perf_counter())
                self._queue.put_nowait(data)
        except Exception:  # closed by the server (the tests look at why)
            self.closed.set()
            self._queue.put_nowait(None)

    async def send(self, event: dict[str, Any]) -> None:
        await self.connection.send(event)

    async def next(self, kind: str | None = None, timeout: float = 60) -> dict[str, Any]:
        """The next event (of ``kind``, skipping others)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                event = await asyncio.wait_for(self._queue.get(), max(left, 0.01))
            except TimeoutError:
                raise AssertionError(
                    f"no {kind or 'event'} within {timeout} s; got {self.kinds()[-12:]}"
                ) from None
            if event is None:
                raise AssertionError(f"connection closed while waiting for {kind}")
            if kind is None or event["type"] == kind:
                return event

    def kinds(self) -> list[str]:
        return [e["type"] for e in self.events]

    def of(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events
            if e["type"] == kind and all(e.get(k) == v for k, v in match.items())
        ]

    async def update(self, session: dict[str, Any]) -> None:
        """Send ``session.update`` for a realtime (GA) session with these fields."""
        await self.send({"type": "session.update", "session": {"type": "realtime", **session}})

    async def say(self, text: str) -> None:
        """Add a user message with ``text`` to the conversation."""
        await self.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": text}],
                },
            }
        )

    async def append(self, audio: bytes) -> None:
        await self.send(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(audio).decode()}
        )

    async def stream(self, audio: bytes, *, bytes_per_second: int, speed: float = 1.0) -> float:
        """Send ``audio`` in 100 ms appends at ``speed`` x real time; returns when it finished."""
        step = bytes_per_second // 10
        started = time.perf_counter()
        for index, offset in enumerate(range(0, len(audio), step)):
            await self.append(audio[offset : offset + step])
            due = started + (index + 1) * 0.1 / speed
            await asyncio.sleep(max(due - time.perf_counter(), 0))
        return time.perf_counter()

    def audio_of(self, response_id: str, *, delta: str = "response.output_audio.delta") -> bytes:
        return b"".join(
            base64.b64decode(e["delta"]) for e in self.of(delta, response_id=response_id)
        )

    async def aclose(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        with contextlib.suppress(Exception):
            await self.connection.close()


@contextlib.asynccontextmanager
async def connect(
    url: str, model: str = "gpt-realtime", *, beta: bool = False, key: str = "unused", **query: str
) -> AsyncIterator[Session]:
    """A GA connection through ``client.realtime.connect``, or a beta one through
    ``client.beta.realtime.connect`` (which needs ``websocket_base_url``)."""
    ws_url = url.replace("http://", "ws://") + "/v1"
    client = openai.AsyncOpenAI(
        base_url=url + "/v1", api_key=key, websocket_base_url=ws_url if beta else None
    )
    realtime = client.beta.realtime if beta else client.realtime
    async with realtime.connect(model=model, extra_query=query) as connection:
        session = Session(connection, beta=beta)
        try:
            yield session
        finally:
            await session.aclose()


def pcm16(chunk: AudioChunk) -> bytes:
    return AudioChunk(resample(chunk.samples, chunk.sample_rate, PCM_RATE), PCM_RATE).to_pcm16()


def telephony(chunk: AudioChunk, law: str) -> bytes:
    samples = resample(chunk.samples, chunk.sample_rate, 8000)
    return ulaw_encode(samples) if law == "mulaw" else alaw_encode(samples)


def decode_output(data: bytes, fmt: str) -> AudioChunk:
    """Reply audio as float samples: pcm16 at 24 kHz, or G.711 at 8 kHz."""
    if fmt == "pcm16":
        samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
        return AudioChunk(samples, PCM_RATE)
    codes = ulaw_decode(data) if fmt == "mulaw" else alaw_decode(data)
    return AudioChunk(codes.astype(np.float32) / 32768.0, 8000)


def wav(chunk: AudioChunk) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, chunk.samples, chunk.sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def silence(seconds: float, bytes_per_second: int, fill: bytes = b"\x00") -> bytes:
    return fill * int(seconds * bytes_per_second)
