"""openai-agents' RealtimeRunner against the local daemon: it validates every server event with
the openai package's models and reports any that fail as errors."""

from __future__ import annotations

import asyncio
from typing import Any

from agents import set_tracing_disabled
from agents.realtime import RealtimeAgent, RealtimeRunner

from tests.core.api.realtime.conftest import Daemon
from tests.support.realtime import PCM_RATE, pcm16, silence
from tests.support.speech import speech
from tests.support.wer import word_error_rate

QUESTION = "What is the capital of France?"


def _texts(item: Any) -> str:
    return " ".join(
        str(getattr(part, "transcript", None) or getattr(part, "text", None) or "")
        for part in getattr(item, "content", [])
    ).strip()


async def test_realtime_runner_holds_a_spoken_conversation(daemon: Daemon) -> None:
    set_tracing_disabled(True)  # nothing leaves the machine
    agent = RealtimeAgent(name="Assistant", instructions="Answer in one short sentence.")
    runner = RealtimeRunner(
        starting_agent=agent,
        config={"model_settings": {"model_name": "gpt-realtime", "voice": "alloy"}},
    )
    url = daemon.url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime"
    session = await runner.run(model_config={"url": url, "api_key": "unused"})
    audio_bytes = 0
    errors: list[str] = []
    history: list[Any] = []
    async with session:

        async def speak() -> None:
            audio = pcm16(speech(QUESTION)) + silence(6, PCM_RATE * 2)
            step = PCM_RATE * 2 // 10
            for offset in range(0, len(audio), step):
                await session.send_audio(audio[offset : offset + step])
                await asyncio.sleep(0.05)

        speaker = asyncio.create_task(speak())
        try:
            async with asyncio.timeout(90):
                async for event in session:
                    if event.type == "audio":
                        audio_bytes += len(event.audio.data)
                    elif event.type == "error":
                        errors.append(str(event.error))
                    elif event.type == "history_updated":
                        history = list(event.history)
                    elif event.type == "agent_end":
                        break
        finally:
            speaker.cancel()
    assert not errors, errors
    assert audio_bytes > PCM_RATE  # more than half a second of speech
    user = [_texts(i) for i in history if getattr(i, "role", None) == "user"]
    assistant = [_texts(i) for i in history if getattr(i, "role", None) == "assistant"]
    assert user and word_error_rate(QUESTION, user[0]) <= 0.2, user
    assert assistant and assistant[0], assistant
