"""LiveKit Agents' OpenAI plugin, pointed at a voxgate daemon: run with the LiveKit
environment's Python (see tests/support/client_envs.py), not the project's.

``livekit_checks.py BASE_URL CHECK`` runs one of the plugin's pieces the way an agent session
does and prints one JSON object with what came out of it. Checks:

- ``realtime``: the Realtime model hears a spoken question (server-side turn detection) and
  answers it in text and audio.
- ``speech``: the TTS speaks a sentence (PCM bytes and sample rates).
- ``transcription``: the STT transcribes one utterance through /v1/audio/transcriptions.
- ``live_transcription``: the STT's streaming mode (a Realtime transcription session) turns
  paced audio into interim and final transcripts.

The spoken question is made by the daemon's own ``/v1/audio/speech`` (24 kHz PCM).
"""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

from livekit import rtc
from livekit.agents import llm, stt
from livekit.agents.utils import http_context
from livekit.plugins import openai

QUESTION = "What is the capital of France?"
RATE = 24_000
#: 20 ms of 16-bit mono audio at 24 kHz, the frame size of a real room.
FRAME_BYTES = RATE * 2 // 50
#: How long a check waits for its result; a loaded 2-core machine is slow.
WAIT_S = 120.0


def spoken_question(base_url: str) -> bytes:
    body = {"model": "tts-1", "input": QUESTION, "voice": "alloy", "response_format": "pcm"}
    request = urllib.request.Request(
        base_url + "/v1/audio/speech",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        data: bytes = response.read()
    return data


def frame(pcm: bytes) -> rtc.AudioFrame:
    return rtc.AudioFrame(
        data=pcm, sample_rate=RATE, num_channels=1, samples_per_channel=len(pcm) // 2
    )


async def paced(pcm: bytes, push: Callable[[rtc.AudioFrame], None]) -> None:
    """``pcm`` and 1.2 s of silence, in 20 ms frames sent in real time."""
    pcm = pcm + bytes(RATE * 2 * 6 // 5)
    pcm += bytes(-len(pcm) % FRAME_BYTES)
    for start in range(0, len(pcm), FRAME_BYTES):
        push(frame(pcm[start : start + FRAME_BYTES]))
        await asyncio.sleep(0.02)


async def realtime(base_url: str) -> dict[str, Any]:
    heard: list[str] = []
    answer: list[str] = []
    audio = 0
    errors: list[str] = []
    answered = asyncio.Event()
    model = openai.realtime.RealtimeModel(
        base_url=base_url + "/v1", api_key="unused", model="gpt-realtime"
    )
    session = model.session()

    def on_transcript(event: llm.InputTranscriptionCompleted) -> None:
        if event.is_final:
            heard.append(event.transcript)

    async def text(message: llm.MessageGeneration) -> None:
        async for piece in message.text_stream:
            answer.append(str(piece))

    async def sound(message: llm.MessageGeneration) -> None:
        nonlocal audio
        async for chunk in message.audio_stream:
            audio += len(chunk.data) * 2

    async def consume(generation: llm.GenerationCreatedEvent) -> None:
        async for message in generation.message_stream:
            await asyncio.gather(text(message), sound(message))
        if heard:
            answered.set()

    consumers: list[asyncio.Task[None]] = []
    session.on("input_audio_transcription_completed", on_transcript)
    session.on("error", lambda event: errors.append(repr(event)[:500]))
    session.on(
        "generation_created", lambda event: consumers.append(asyncio.create_task(consume(event)))
    )
    try:
        await asyncio.sleep(0.5)
        await paced(spoken_question(base_url), session.push_audio)
        await asyncio.wait_for(answered.wait(), WAIT_S)
    finally:
        await session.aclose()
        await model.aclose()
    await asyncio.gather(*consumers, return_exceptions=True)
    return {
        "heard": " ".join(heard),
        "answer": "".join(answer),
        "audio_bytes": audio,
        "errors": errors,
    }


async def speech(base_url: str) -> dict[str, Any]:
    tts = openai.TTS(base_url=base_url + "/v1", api_key="unused", model="tts-1", voice="alloy")
    total = 0
    rates: set[int] = set()
    async for event in tts.synthesize("Hello there. This is a test."):
        total += len(event.frame.data) * 2
        rates.add(event.frame.sample_rate)
    await tts.aclose()
    return {"bytes": total, "rates": sorted(rates), "errors": []}


async def transcription(base_url: str) -> dict[str, Any]:
    recognizer = openai.STT(
        base_url=base_url + "/v1", api_key="unused", model="whisper-1", use_realtime=False
    )
    event = await recognizer.recognize(buffer=frame(spoken_question(base_url)))
    await recognizer.aclose()
    return {"text": event.alternatives[0].text if event.alternatives else "", "errors": []}


async def live_transcription(base_url: str) -> dict[str, Any]:
    recognizer = openai.STT(
        base_url=base_url + "/v1",
        api_key="unused",
        model="gpt-4o-transcribe",
        use_realtime=True,
    )
    stream = recognizer.stream()
    pcm = spoken_question(base_url)

    async def feed() -> None:
        await paced(pcm, stream.push_frame)
        stream.end_input()

    feeding = asyncio.create_task(feed())
    kinds: list[str] = []
    final = ""

    async def listen() -> None:
        nonlocal final
        async for event in stream:
            kinds.append(event.type.name)
            if event.type is stt.SpeechEventType.FINAL_TRANSCRIPT:
                final = event.alternatives[0].text
                return

    try:
        await asyncio.wait_for(listen(), WAIT_S)
    finally:
        await feeding
        await stream.aclose()
        await recognizer.aclose()
    return {"text": final, "events": kinds, "errors": []}


CHECKS: dict[str, Callable[[str], Awaitable[dict[str, Any]]]] = {
    "realtime": realtime,
    "speech": speech,
    "transcription": transcription,
    "live_transcription": live_transcription,
}


async def main(base_url: str, check: str) -> dict[str, Any]:
    async with http_context.open():
        return await CHECKS[check](base_url)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))))
