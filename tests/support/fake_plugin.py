"""A plugin of fake engines for testing the core's own logic: routing, breakers, reload.

Real engines are tested with real models in tests/plugins/. These fakes exist because routing
logic needs engines that fail, hang or crash on demand. Behaviour can be switched at run time
through ``SWITCHES`` (keyed by the ``switch`` setting), so a test can "repair" an engine without
a reload.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

from core.audio.chunk import AudioChunk
from core.engines import (
    ChatDelta,
    ChatRequest,
    Embeddings,
    EmbeddingsEngine,
    EngineSettings,
    EngineUnavailable,
    InvalidRequest,
    LLMEngine,
    Segment,
    SpeechRequest,
    STTEngine,
    TranscriptionRequest,
    TTSEngine,
    Usage,
    Voice,
)
from core.engines.base import Health, Location
from core.engines.input_type import InputType
from core.engines.llm import ToolCallDelta
from core.engines.threaded import ThreadedIterator, run_blocking
from core.hookspecs import hookimpl

#: switch name -> "ok" | "fail" | "hang" | "native_hang" | "native_steps" | "crash_mid_stream"
#: ("native_steps" LLMs compute each word in an engine thread, ``delay`` seconds a word, as a
#: native decoder does a token at a time.)
SWITCHES: dict[str, str] = {}
#: "native_hang" engines block a thread in a lock wait (native code, deaf to asyncio
#: cancellation) until this is set.
NATIVE_RELEASE = threading.Event()
#: Threads currently inside such a blocking call.
NATIVE_BLOCKED: list[str] = []
#: engine name -> calls seen
CALLS: dict[str, int] = {}
#: "native_steps" engine name -> the steps (words) its threads have begun
STEPS_BEGUN: dict[str, int] = {}
#: fake embeddings engine name -> the input_type of each embed call
EMBED_TYPES: dict[str, list[str | None]] = {}
#: fake llm engine name -> the last chat request it was given
CHAT_REQUESTS: dict[str, ChatRequest] = {}

#: An LLM chain of a fake engine without tools, then one with them (the chat and Responses
#: tests): ``only_plain`` skips the second, ``gpt-4o-mini`` is the whole chain.
PLAIN_THEN_TOOLS = """\
engines:
  plain: {capability: llm, engine: fake, settings: {reply: "one two three"}}
  tools: {capability: llm, engine: fake_tools, settings: {reply: "from tools"}}
routes:
  llm: [plain, tools]
aliases:
  only_plain: plain
  gpt-4o-mini: llm
"""


class FakeSettings(EngineSettings):
    reply: str = "hello from fake"
    chunks: int = 3
    delay: float = 0.0
    load_delay: float = 0.0
    #: Seconds the load holds the event loop (time.sleep, not asyncio.sleep): a stalled loop.
    block_loop: float = 0.0
    fail_load: bool = False
    switch: str | None = None
    #: Fails (like a "fail" switch) while this file exists: a switch daemon processes share.
    fail_file: str | None = None
    voices: tuple[str, ...] = ("fake-a", "fake-b")
    language: str = "en"
    #: What the engine's health probe answers: "ok", "sick" (unhealthy) or "hang" (no answer).
    health: Literal["ok", "sick", "hang"] = "ok"


class _Behaviour:
    settings: FakeSettings
    loads: int = 0
    closes: int = 0

    def _mode(self) -> str:
        settings = self.settings
        if settings.fail_file is not None and Path(settings.fail_file).exists():
            return "fail"
        return SWITCHES.get(settings.switch, "ok") if settings.switch else "ok"

    async def health(self) -> Health:
        if self.settings.health == "hang":
            await asyncio.sleep(3600)
        if self.settings.health == "sick":
            return Health(ok=False, detail="fake model in a bad way")
        return Health(ok=True)

    async def load(self) -> None:
        self.loads += 1
        if self.settings.block_loop:
            time.sleep(self.settings.block_loop)  # on purpose: the loop stalls, nothing else runs
        await asyncio.sleep(self.settings.load_delay)
        if self.settings.fail_load:
            raise EngineUnavailable("fake model file missing")

    async def close(self) -> None:
        self.closes += 1

    def _block_natively(self, name: str) -> None:
        """Runs in an engine thread: stuck in a lock wait, like a hung native decoder."""
        NATIVE_BLOCKED.append(name)
        try:
            NATIVE_RELEASE.wait(60)
        finally:
            NATIVE_BLOCKED.remove(name)

    async def _before_first(self, name: str) -> None:
        CALLS[name] = CALLS.get(name, 0) + 1
        mode = self._mode()
        if mode == "fail":
            raise EngineUnavailable("fake failure")
        if mode == "hang":
            await asyncio.sleep(3600)
        await asyncio.sleep(self.settings.delay)


class FakeLLM(_Behaviour, LLMEngine):
    Settings: ClassVar[type[EngineSettings]] = FakeSettings
    description = "fake chat engine for core tests"
    settings: FakeSettings

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        CHAT_REQUESTS[self.name] = request
        mode = self._mode()
        if mode in ("native_hang", "native_steps"):
            CALLS[self.name] = CALLS.get(self.name, 0) + 1
            produce = self._blocked_reply if mode == "native_hang" else self._stepped_reply
            deltas = ThreadedIterator(produce, name=f"fake-{self.name}")
            try:
                async for delta in deltas:
                    yield delta
            finally:
                await deltas.aclose()
            return
        await self._before_first(self.name)
        if any(m.content == "invalid" for m in request.messages):
            raise InvalidRequest("the fake refuses 'invalid'", param="messages")
        words = self.settings.reply.split(" ")
        for index, word in enumerate(words):
            if index and self._mode() == "crash_mid_stream":
                raise RuntimeError("fake crash mid-stream")
            yield ChatDelta(text=word if index == 0 else " " + word)
            await asyncio.sleep(self.settings.delay)
        yield ChatDelta(finish_reason="stop", usage=Usage(len(request.messages), len(words)))

    def _stepped_reply(self) -> Iterator[ChatDelta]:
        for index, word in enumerate(self.settings.reply.split(" ")):
            STEPS_BEGUN[self.name] = STEPS_BEGUN.get(self.name, 0) + 1
            time.sleep(self.settings.delay)  # on purpose: the thread is busy with this step
            yield ChatDelta(text=word if index == 0 else " " + word)
        yield ChatDelta(finish_reason="stop")

    def _blocked_reply(self) -> Iterator[ChatDelta]:
        self._block_natively(self.name)
        yield ChatDelta(text=self.settings.reply)
        yield ChatDelta(finish_reason="stop")


class FakeCloudLLM(FakeLLM):
    location: ClassVar[Location] = "cloud"


class FakeToolLLM(FakeCloudLLM):
    """A cloud-like chat engine that can do tools: it calls the first function it may call
    (arguments ``{"n": 1}``, sent in two pieces), and answers in text otherwise."""

    supports_tools = True
    supports_response_format = True
    supports_logprobs = True

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        CHAT_REQUESTS[self.name] = request
        await self._before_first(self.name)
        if not request.uses_tools:
            async for delta in super().chat(request):
                yield delta
            return
        name = request.tool_choice.function or request.tools[0].name
        yield ChatDelta(tool_calls=(ToolCallDelta(0, id="call_fake1", name=name),))
        yield ChatDelta(tool_calls=(ToolCallDelta(0, arguments='{"n": '),))
        yield ChatDelta(tool_calls=(ToolCallDelta(0, arguments="1}"),))
        yield ChatDelta(finish_reason="tool_calls", usage=Usage(len(request.messages), 4))


class FakeTTS(_Behaviour, TTSEngine):
    Settings: ClassVar[type[EngineSettings]] = FakeSettings
    supports_instructions = True
    settings: FakeSettings
    rate = 24000

    async def voices(self) -> list[Voice]:
        genders: tuple[Literal["female"], Literal["male"]] = ("female", "male")
        return [
            Voice(id=v, name=v, language=self.settings.language, gender=genders[i % 2])
            for i, v in enumerate(self.settings.voices)
        ]

    def default_voice(self) -> str | None:
        return self.settings.voices[0]

    async def synthesize(self, request: SpeechRequest) -> AsyncIterator[AudioChunk]:
        await self._before_first(self.name)
        t = np.arange(self.rate // 10, dtype=np.float32) / self.rate
        tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for index in range(self.settings.chunks):
            if index and self._mode() == "crash_mid_stream":
                raise RuntimeError("fake crash mid-stream")
            yield AudioChunk(tone, self.rate)
            await asyncio.sleep(self.settings.delay)


class FakeCloudTTS(FakeTTS):
    location: ClassVar[Location] = "cloud"


class FakeSTT(_Behaviour, STTEngine):
    Settings: ClassVar[type[EngineSettings]] = FakeSettings
    supports_translation = True
    settings: FakeSettings

    async def transcribe(self, request: TranscriptionRequest) -> AsyncIterator[Segment]:
        await self._before_first(self.name)
        duration = request.audio.duration
        words = self.settings.reply.split(" ")
        step = duration / max(len(words), 1)
        for index, word in enumerate(words):
            if index and self._mode() == "crash_mid_stream":
                raise RuntimeError("fake crash mid-stream")
            yield Segment(
                id=index,
                start=index * step,
                end=(index + 1) * step,
                text=word,
                language=self.settings.language if index == 0 else None,
            )


class FakeDiarizingSTT(FakeSTT):
    """Tells speakers apart: each word is a segment, speakers taking turns."""

    supports_diarization = True

    async def transcribe(self, request: TranscriptionRequest) -> AsyncIterator[Segment]:
        async for segment in super().transcribe(request):
            speaker = "AB"[segment.id % 2] if request.diarize else None
            yield dataclasses.replace(segment, speaker=speaker)


class FakeEmbeddings(_Behaviour, EmbeddingsEngine):
    Settings: ClassVar[type[EngineSettings]] = FakeSettings
    settings: FakeSettings

    async def embed(self, texts: list[str], input_type: InputType | None = None) -> Embeddings:
        EMBED_TYPES.setdefault(self.name, []).append(input_type)
        if self._mode() == "native_hang":
            CALLS[self.name] = CALLS.get(self.name, 0) + 1
            await run_blocking(lambda: self._block_natively(self.name), name="fake-embed")
        else:
            await self._before_first(self.name)
        vectors = [[float(len(t)), float(sum(map(ord, t)) % 97), 1.0] for t in texts]
        return Embeddings(vectors=vectors, prompt_tokens=sum(len(t.split()) for t in texts))


class FakePlugin:
    """Registered directly (``extra=``) or through an entry point by the extension-path test."""

    @hookimpl
    def voxgate_llm_engines(self) -> Mapping[str, type[LLMEngine]]:
        return {"fake": FakeLLM, "fake_cloud": FakeCloudLLM, "fake_tools": FakeToolLLM}

    @hookimpl
    def voxgate_tts_engines(self) -> Mapping[str, type[TTSEngine]]:
        return {"fake": FakeTTS, "fake_cloud": FakeCloudTTS}

    @hookimpl
    def voxgate_stt_engines(self) -> Mapping[str, type[STTEngine]]:
        return {"fake": FakeSTT, "fake_diarizing": FakeDiarizingSTT}

    @hookimpl
    def voxgate_embeddings_engines(self) -> Mapping[str, type[EmbeddingsEngine]]:
        return {"fake": FakeEmbeddings}


#: What the ``voxgate`` entry point of the installed test distribution points at.
PLUGIN = FakePlugin()
