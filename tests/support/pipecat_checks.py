"""pipecat's OpenAI services, pointed at a voxgate daemon: run with the pipecat environment's
Python (see tests/support/client_envs.py), not the project's.

``pipecat_checks.py BASE_URL CHECK`` runs one service the way a pipecat voice bot does and
prints one JSON object with what came out of it. Checks:

- ``chat``: OpenAILLMService answers a question (its text frames, joined).
- ``tools``: OpenAILLMService with a registered function the model is required to call (the
  arguments the function received, and whether its result went back into the context).
- ``speech``: OpenAITTSService speaks a sentence (PCM bytes and sample rates).
- ``transcription``: OpenAISTTService transcribes one VAD-cut utterance.
- ``realtime``: OpenAIRealtimeLLMService hears a spoken question and answers it in text and
  audio. pipecat asks for a first reply as soon as it has a context, and the question then
  cuts that reply short, as a user talking over a greeting does.
- ``realtime_transcription``: OpenAIRealtimeSTTService (``?intent=transcription``, turns cut
  by pipecat's own VAD events) transcribes one utterance.

The spoken question is made by the daemon's own ``/v1/audio/speech`` (24 kHz PCM).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from pipecat.adapters.schemas.function_schema import FunctionSchema
from pipecat.adapters.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import (
    EndFrame,
    ErrorFrame,
    Frame,
    FunctionCallResultFrame,
    InputAudioRawFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMTextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStoppedFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.llm_service import FunctionCallParams
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.services.openai.realtime.llm import OpenAIRealtimeLLMService
from pipecat.services.openai.stt import OpenAIRealtimeSTTService, OpenAISTTService
from pipecat.services.openai.tts import OpenAITTSService
from pipecat.workers.runner import WorkerRunner

QUESTION = "What is the capital of France?"
RATE = 24_000
#: 20 ms of 16-bit mono audio at 24 kHz, the frame size of a real transport.
FRAME_BYTES = RATE * 2 // 50
#: How long a check waits for its result; a loaded 2-core machine is slow.
WAIT_S = 120.0

Done = Callable[[list[Frame]], bool]


class Recorder(FrameProcessor):  # type: ignore[misc]
    """Keeps every frame that passes, in either direction, and says when ``done`` holds."""

    def __init__(self, frames: list[Frame], done: Done, finished: asyncio.Event) -> None:
        super().__init__()
        self._frames = frames
        self._done = done
        self._finished = finished

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        self._frames.append(frame)
        if self._done(self._frames):
            self._finished.set()
        await self.push_frame(frame, direction)


async def run(service: FrameProcessor, feed: Sequence[Frame | float], done: Done) -> list[Frame]:
    """Run ``service`` in a pipeline, push ``feed`` (a number is a pause in seconds), wait until
    ``done`` holds for the frames seen on both sides of it, and end the pipeline."""
    frames: list[Frame] = []
    finished = asyncio.Event()
    pipeline = Pipeline(
        [Recorder(frames, done, finished), service, Recorder(frames, done, finished)]
    )
    worker = PipelineWorker(pipeline, cancel_on_idle_timeout=False)
    started = asyncio.Event()

    @worker.event_handler("on_pipeline_started")  # type: ignore[untyped-decorator]
    async def _started(_worker: Any, _frame: Frame) -> None:
        started.set()

    runner = WorkerRunner()
    await runner.add_workers(worker)
    running = asyncio.create_task(runner.run())
    try:
        await asyncio.wait_for(started.wait(), 30)
        for item in feed:
            if isinstance(item, float):
                await asyncio.sleep(item)
            else:
                await worker.queue_frame(item)
        await asyncio.wait_for(finished.wait(), WAIT_S)
    finally:
        await worker.queue_frame(EndFrame())
        await asyncio.wait_for(running, 30)
    return frames


def spoken_question(base_url: str) -> bytes:
    body = {"model": "tts-1", "input": QUESTION, "voice": "alloy", "response_format": "pcm"}
    response = httpx.post(base_url + "/v1/audio/speech", json=body, timeout=120)
    response.raise_for_status()
    return response.content


def audio_frames(pcm: bytes, *, paced: bool) -> list[Frame | float]:
    """``pcm`` in 20 ms frames, then 1.2 s of silence; paced in real time when asked (a
    server-side VAD sees the pause only as it happens)."""
    pcm = pcm + bytes(RATE * 2 * 6 // 5)
    feed: list[Frame | float] = []
    for start in range(0, len(pcm), FRAME_BYTES):
        chunk = pcm[start : start + FRAME_BYTES]
        feed.append(InputAudioRawFrame(audio=chunk, sample_rate=RATE, num_channels=1))
        if paced:
            feed.append(0.02)
    return feed


def texts(frames: list[Frame], kind: type[Frame]) -> str:
    return "".join(frame.text for frame in frames if type(frame) is kind)


def errors(frames: list[Frame]) -> list[str]:
    return [str(frame.error) for frame in frames if isinstance(frame, ErrorFrame)]


def has(kind: type[Frame]) -> Done:
    return lambda frames: any(isinstance(frame, kind) for frame in frames) or bool(errors(frames))


async def chat(base_url: str) -> dict[str, Any]:
    service = OpenAILLMService(
        api_key="unused",
        base_url=base_url + "/v1",
        settings=OpenAILLMService.Settings(model="gpt-4o-mini", temperature=0),
    )
    context = LLMContext(messages=[{"role": "user", "content": QUESTION}])
    frames = await run(service, [LLMContextFrame(context=context)], has(LLMFullResponseEndFrame))
    return {"text": texts(frames, LLMTextFrame), "errors": errors(frames)}


async def tools(base_url: str) -> dict[str, Any]:
    service = OpenAILLMService(
        api_key="unused",
        base_url=base_url + "/v1",
        settings=OpenAILLMService.Settings(model="gpt-4o-mini", temperature=0),
    )
    received: list[dict[str, Any]] = []

    async def get_weather(params: FunctionCallParams) -> None:
        received.append(dict(params.arguments))
        await params.result_callback({"conditions": "sunny", "celsius": 21})

    service.register_function("get_weather", get_weather)
    schema = FunctionSchema(
        name="get_weather",
        description="The current weather in a city",
        properties={"city": {"type": "string"}},
        required=["city"],
    )
    context = LLMContext(
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=ToolsSchema(standard_tools=[schema]),
        tool_choice="required",
    )
    frames = await run(service, [LLMContextFrame(context=context)], has(FunctionCallResultFrame))
    results = [f.result for f in frames if isinstance(f, FunctionCallResultFrame)]
    return {"arguments": received, "results": results[:1], "errors": errors(frames)}


async def speech(base_url: str) -> dict[str, Any]:
    service = OpenAITTSService(
        api_key="unused",
        base_url=base_url + "/v1",
        settings=OpenAITTSService.Settings(model="tts-1", voice="alloy"),
    )
    frames = await run(
        service, [TTSSpeakFrame(text="Hello there. This is a test.")], has(TTSStoppedFrame)
    )
    audio = [f for f in frames if isinstance(f, TTSAudioRawFrame)]
    return {
        "bytes": sum(len(f.audio) for f in audio),
        "rates": sorted({f.sample_rate for f in audio}),
        "errors": errors(frames),
    }


async def transcription(base_url: str) -> dict[str, Any]:
    service = OpenAISTTService(
        api_key="unused",
        base_url=base_url + "/v1",
        settings=OpenAISTTService.Settings(model="whisper-1"),
    )
    pcm = spoken_question(base_url)
    feed = [VADUserStartedSpeakingFrame(), *audio_frames(pcm, paced=False)]
    frames = await run(service, [*feed, VADUserStoppedSpeakingFrame()], has(TranscriptionFrame))
    return {"text": texts(frames, TranscriptionFrame), "errors": errors(frames)}


async def realtime(base_url: str) -> dict[str, Any]:
    service = OpenAIRealtimeLLMService(
        api_key="unused",
        base_url=base_url.replace("http", "ws", 1) + "/v1/realtime",
        settings=OpenAIRealtimeLLMService.Settings(
            model="gpt-realtime", system_instruction="Answer in one short sentence."
        ),
    )
    pcm = spoken_question(base_url)

    def answered(frames: list[Frame]) -> bool:
        heard = [i for i, f in enumerate(frames) if isinstance(f, TranscriptionFrame)]
        spoken = [i for i, f in enumerate(frames) if isinstance(f, TTSStoppedFrame)]
        return bool(errors(frames)) or bool(heard and spoken and spoken[-1] > heard[0])

    context = LLMContext()
    feed = [LLMContextFrame(context=context), 0.5, *audio_frames(pcm, paced=True)]
    frames = await run(service, feed, answered)
    heard = [i for i, f in enumerate(frames) if isinstance(f, TranscriptionFrame)]
    after = frames[heard[0] :] if heard else []
    return {
        "heard": texts(frames, TranscriptionFrame),
        "answer": texts(after, LLMTextFrame),
        "audio_bytes": sum(len(f.audio) for f in after if isinstance(f, TTSAudioRawFrame)),
        "errors": errors(frames),
    }


async def realtime_transcription(base_url: str) -> dict[str, Any]:
    service = OpenAIRealtimeSTTService(
        api_key="unused",
        base_url=base_url.replace("http", "ws", 1) + "/v1/realtime",
        settings=OpenAIRealtimeSTTService.Settings(model="gpt-4o-transcribe"),
    )
    pcm = spoken_question(base_url)
    feed = [0.5, VADUserStartedSpeakingFrame(), *audio_frames(pcm, paced=True)]
    frames = await run(service, [*feed, VADUserStoppedSpeakingFrame()], has(TranscriptionFrame))
    return {"text": texts(frames, TranscriptionFrame), "errors": errors(frames)}


CHECKS = {
    "chat": chat,
    "tools": tools,
    "speech": speech,
    "transcription": transcription,
    "realtime": realtime,
    "realtime_transcription": realtime_transcription,
}

if __name__ == "__main__":
    base, check = sys.argv[1], sys.argv[2]
    print(json.dumps(asyncio.run(CHECKS[check](base))))
