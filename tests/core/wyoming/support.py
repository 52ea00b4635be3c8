"""A voxgate daemon with its Wyoming listener on a free loopback port, and client-side helpers
built on the ``wyoming`` package's own client (``AsyncTcpClient``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np
from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk as WyomingChunk
from wyoming.audio import AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event

from core.audio.chunk import AudioChunk
from tests.support.daemon import Daemon, free_port
from tests.support.speech import at_rate

#: Read timeout for one event: generous, the machine running the tests may be busy.
EVENT_TIMEOUT = 60.0
#: Home Assistant's microphone format, in chunks of 1024 samples.
RATE, CHUNK_SAMPLES = 16000, 1024


class WyomingDaemon:
    """``voxgate serve`` whose YAML ends with a ``wyoming:`` block enabling the listener on a
    free port, plus the settings in ``wyoming`` (flow-style YAML; ``{port}`` is replaced)."""

    def __init__(
        self, folder: Path, config: str, wyoming: str = "", env: Mapping[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.config = folder / "ai_backend.yaml"
        self.write(config, wyoming)
        environment = {
            "VOXGATE_DATA_DIR": str(folder / "data"),
            "HIBARI_HOME": str(folder / "hibari-cache"),
            **(env or {}),
        }
        self.daemon = Daemon(self.config, environment, log=folder / "daemon.log")

    def write(self, config: str, wyoming: str = "", *, port: int | None = None) -> None:
        extra = ", " + wyoming.format(port=self.port) if wyoming else ""
        block = f"wyoming: {{enabled: true, port: {port or self.port}{extra}}}"
        self.config.write_text(config + "\n" + block + "\n", encoding="utf-8")

    def client(self) -> AsyncTcpClient:
        return AsyncTcpClient("127.0.0.1", self.port, read_timeout=EVENT_TIMEOUT)


@contextlib.contextmanager
def wyoming_daemon(
    folder: Path, config: str, wyoming: str = "", env: Mapping[str, str] | None = None
) -> Iterator[WyomingDaemon]:
    running = WyomingDaemon(folder, config, wyoming, env)
    try:
        yield running
    finally:
        running.daemon.stop()


async def read_until(client: AsyncTcpClient, *types: str) -> list[Event]:
    """Every event up to and including the first of ``types`` (or ``error``); fails on EOF."""
    events: list[Event] = []
    while True:
        event = await client.read_event()
        assert event is not None, f"connection closed after {[e.type for e in events]}"
        events.append(event)
        if event.type in types or event.type == "error":
            return events


def pcm16(chunk: AudioChunk, rate: int = RATE) -> bytes:
    return at_rate(chunk, rate).to_pcm16() if chunk.sample_rate != rate else chunk.to_pcm16()


def command_events(pcm: bytes, rate: int = RATE, language: str | None = "en") -> list[Event]:
    """What Home Assistant sends for one spoken command."""
    step = CHUNK_SAMPLES * 2
    return [
        Transcribe(language=language).event(),
        AudioStart(rate=rate, width=2, channels=1).event(),
        *(
            WyomingChunk(rate=rate, width=2, channels=1, audio=pcm[i : i + step]).event()
            for i in range(0, len(pcm), step)
        ),
        AudioStop().event(),
    ]


async def write_all(client: AsyncTcpClient, events: Iterable[Event]) -> None:
    for event in events:
        await client.write_event(event)


def audio_of(events: Iterable[Event]) -> AudioChunk:
    """The PCM of every audio-chunk, as float32 at the rate the first audio-start announced."""
    listed = list(events)
    start = next(e for e in listed if e.type == "audio-start")
    pcm = b"".join(e.payload or b"" for e in listed if e.type == "audio-chunk")
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / np.float32(32768)
    return AudioChunk(samples, int(start.data["rate"]))


async def transcribe(running: WyomingDaemon, audio: AudioChunk) -> list[Event]:
    """Send ``audio`` as a command on a new connection; the events up to transcript-stop."""
    async with running.client() as client:
        await write_all(client, command_events(pcm16(audio)))
        return await read_until(client, "transcript-stop")


async def synthesize(running: WyomingDaemon, *events: Event) -> list[Event]:
    """Send ``events`` (a synthesize, or a stream) on a new connection; the answer's events."""
    streaming = any(e.type == "synthesize-start" for e in events)
    async with running.client() as client:
        await write_all(client, events)
        return await read_until(client, "synthesize-stopped" if streaming else "audio-stop")


@contextlib.asynccontextmanager
async def raw_connection(
    port: int, source: str | None = None
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A plain TCP connection, for bytes no Wyoming client would send (optionally from another
    loopback address, ``127.0.0.2``, for the allow-list)."""
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, local_addr=(source, 0) if source else None
    )
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()
