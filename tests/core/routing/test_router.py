"""Routing along chains with fake engines: fallback, timeouts, retries, breakers, streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from core.engines import ChatDelta, ChatMessage, ChatRequest, InvalidRequest, LLMEngine
from core.engines.base import Capability
from core.routing.errors import AllEnginesFailed, NoEngineAvailable, StreamInterrupted, UnknownModel
from core.runtime.runtime import Runtime
from tests.support import MakeConfig, WriteConfig
from tests.support.daemon import asgi_client
from tests.support.fake_plugin import CALLS, SWITCHES
from tests.support.runtime import running_runtime

CONFIG = """\
mode: {mode}
policy:
  timeout: 0.5
  retries: {retries}
  retry_backoff: 0.001
  breaker: {{failures: 2, cooldown: 0.3, max_cooldown: 1}}
engines:
  primary: {{capability: llm, engine: fake, settings: {{reply: "primary here", switch: p}}}}
  secondary: {{capability: llm, engine: fake, settings: {{reply: "secondary here", switch: s}}}}
  cloud: {{capability: llm, engine: fake_cloud, settings: {{reply: "cloud here", switch: c}}}}
routes:
  llm: [primary, secondary, cloud]
aliases:
  gpt-4o-mini: llm
  fast: secondary
"""

REQUEST = ChatRequest(messages=(ChatMessage("user", "hi"),))


def chat(request: ChatRequest = REQUEST) -> Callable[[LLMEngine], AsyncIterator[ChatDelta]]:
    def run(engine: LLMEngine) -> AsyncIterator[ChatDelta]:
        return engine.chat(request)

    return run


async def text_of(runtime: Runtime, model: str | None = None) -> tuple[str, str, list[str]]:
    stream = await runtime.current.router.stream(Capability.LLM, model, chat())
    text = "".join([d.text async for d in stream])
    return text, stream.engine, [a.header() for a in stream.attempts]


async def collect(runtime: Runtime, model: str | None = None) -> tuple[str, str, list[str]]:
    async def run(engine: LLMEngine) -> str:
        return "".join([d.text async for d in engine.chat(REQUEST)])

    routed = await runtime.current.router.call(Capability.LLM, model, run)
    return routed.value, routed.engine, [a.header() for a in routed.attempts]


@pytest.fixture
def config(write_config):  # type: ignore[no-untyped-def]
    def make(mode: str = "hybrid", retries: int = 0) -> Path:
        return write_config(CONFIG.format(mode=mode, retries=retries))  # type: ignore[no-any-return]

    return make


async def test_first_healthy_engine_serves(config: MakeConfig) -> None:
    async with running_runtime(config()) as runtime:
        assert await text_of(runtime) == ("primary here", "primary", [])
        assert await collect(runtime) == ("primary here", "primary", [])


async def test_failure_falls_back_and_says_why(config: MakeConfig) -> None:
    SWITCHES["p"] = "fail"
    async with running_runtime(config()) as runtime:
        text, engine, attempts = await text_of(runtime)
        assert (text, engine) == ("secondary here", "secondary")
        assert attempts == ["primary=unavailable"]
        _value, engine, attempts = await collect(runtime)
        assert engine == "secondary" and attempts == ["primary=unavailable"]


async def test_hung_engine_times_out_then_falls_back(config: MakeConfig) -> None:
    SWITCHES["p"] = "hang"
    async with running_runtime(config()) as runtime:
        _, engine, attempts = await text_of(runtime)
        assert engine == "secondary"
        assert attempts == ["primary=timeout"]


async def test_mode_local_never_calls_the_cloud(config: MakeConfig) -> None:
    SWITCHES["p"] = SWITCHES["s"] = "fail"
    async with running_runtime(config(mode="local")) as runtime:
        with pytest.raises(AllEnginesFailed) as caught:
            await text_of(runtime)
        assert "cloud" not in CALLS
        assert "primary: unavailable" in caught.value.message
        assert "secondary: unavailable" in caught.value.message


async def test_mode_api_uses_only_the_cloud(config: MakeConfig) -> None:
    async with running_runtime(config(mode="api")) as runtime:
        assert (await text_of(runtime))[1] == "cloud"
        assert "primary" not in CALLS and "secondary" not in CALLS
        with pytest.raises(UnknownModel, match="excluded by mode"):
            await text_of(runtime, "primary")


async def test_aliases_and_pinning(config: MakeConfig) -> None:
    SWITCHES["p"] = "fail"
    async with running_runtime(config()) as runtime:
        assert (await text_of(runtime, "gpt-4o-mini"))[1] == "secondary"
        assert (await text_of(runtime, "fast"))[1] == "secondary"
        assert (await text_of(runtime, "cloud"))[1] == "cloud"
        # A pinned engine gets no fallback.
        with pytest.raises(AllEnginesFailed):
            await text_of(runtime, "primary")
        # A name the config does not know is refused, naming the ones it does.
        with pytest.raises(UnknownModel) as unknown:
            await text_of(runtime, "some-unknown-model")
        assert unknown.value.status == 404
        for known in ("llm", "primary", "secondary", "cloud", "gpt-4o-mini", "fast"):
            assert known in unknown.value.message
        with pytest.raises(UnknownModel):
            await text_of(runtime, "tts")


PATTERNS = """engines:
  chat: {capability: llm, engine: fake, settings: {reply: "chat here"}}
  other: {capability: llm, engine: fake, settings: {reply: "other here"}}
  embed: {capability: embeddings, engine: fake}
routes:
  llm: [chat]
  embeddings: [embed]
aliases:
  "claude-*": other
  "text-embedding-*": embeddings
  "*": [llm, embeddings]
"""


async def test_pattern_aliases_serve_unknown_names_by_capability(write_config: WriteConfig) -> None:
    async with running_runtime(write_config(PATTERNS)) as runtime:
        router = runtime.current.router
        # The first pattern (in file order) with a target of the request's capability wins.
        assert (await text_of(runtime, "claude-3-haiku"))[1] == "other"
        assert (await text_of(runtime, "gpt-5-anything"))[1] == "chat"
        assert (await text_of(runtime, "text-embedding-3-large"))[1] == "chat"
        assert [s.name for s in router.chain(Capability.EMBEDDINGS, "text-embedding-9").slots] == [
            "embed"
        ]
        assert [s.name for s in router.chain(Capability.EMBEDDINGS, "anything").slots] == ["embed"]
        # No pattern offers a speech engine: still an unknown model there.
        with pytest.raises(UnknownModel, match="not found"):
            router.chain(Capability.TTS, "tts-1")
        async with asgi_client(runtime) as client:
            listed = {m["id"]: m for m in (await client.get("/v1/models")).json()["data"]}
        assert listed["*"]["kind"] == "alias_pattern"
        assert listed["*"]["capability"] == ["llm", "embeddings"]
        assert listed["claude-*"]["capability"] == "llm"


async def test_retries_stay_on_the_same_engine(config: MakeConfig) -> None:
    SWITCHES["p"] = "fail"
    async with running_runtime(config(retries=1)) as runtime:
        _, engine, _ = await text_of(runtime)
        assert engine == "secondary"
        assert CALLS["primary"] == 2


async def test_breaker_opens_skips_cheaply_and_switches_back(config: MakeConfig) -> None:
    SWITCHES["p"] = "hang"
    async with running_runtime(config()) as runtime:
        for _ in range(2):
            assert (await text_of(runtime))[1] == "secondary"
        assert CALLS["primary"] == 2
        slot = runtime.current.slots["primary"]
        assert slot.breaker.state.value == "open"
        # While open: skipped without being called (so without waiting for its timeout).
        loop = asyncio.get_running_loop()
        started = loop.time()
        _, engine, attempts = await text_of(runtime)
        assert engine == "secondary"
        assert attempts == ["primary=breaker_open"]
        assert CALLS["primary"] == 2
        assert loop.time() - started < 0.5  # it did not sit through primary's 0.5 s timeout
        assert runtime.status()["engines"]["primary"]["state"] == "breaker_open"
        # The engine recovers; after the cooldown a probe finds it and traffic returns.
        SWITCHES["p"] = "ok"
        await asyncio.sleep(0.35)
        assert (await text_of(runtime))[1] == "primary"
        assert slot.breaker.state.value == "closed"
        assert (await text_of(runtime))[1] == "primary"


async def test_invalid_request_is_not_retried_or_failed_over(config: MakeConfig) -> None:
    bad = ChatRequest(messages=(ChatMessage("user", "invalid"),))
    async with running_runtime(config()) as runtime:
        with pytest.raises(InvalidRequest):
            stream = await runtime.current.router.stream(Capability.LLM, None, chat(bad))
            [d async for d in stream]
        assert "secondary" not in CALLS
        assert runtime.current.slots["primary"].breaker.consecutive_failures == 0


async def test_stream_failure_after_first_chunk_is_not_hidden(config: MakeConfig) -> None:
    SWITCHES["p"] = "crash_mid_stream"
    async with running_runtime(config()) as runtime:
        stream = await runtime.current.router.stream(Capability.LLM, None, chat())
        assert stream.engine == "primary"
        received = []
        with pytest.raises(StreamInterrupted, match="primary"):
            async for delta in stream:
                received.append(delta.text)
        assert received == ["primary"]
        assert "secondary" not in CALLS
        # The slot was released: the next request is served.
        SWITCHES["p"] = "ok"
        assert (await text_of(runtime))[1] == "primary"
        assert runtime.current.slots["primary"].active == 0


async def test_gathered_output_falls_back_after_a_failure_part_way(config: MakeConfig) -> None:
    SWITCHES.update(p="fail", s="crash_mid_stream")
    async with running_runtime(config()) as runtime:
        routed = await runtime.current.router.gather(Capability.LLM, None, chat())
        assert "".join(d.text for d in routed.value) == "cloud here"
        assert routed.engine == "cloud"
        assert [a.header() for a in routed.attempts] == [
            "primary=unavailable",
            "secondary=failed_mid_stream",
        ]
        assert CALLS == {"primary": 1, "secondary": 1, "cloud": 1}  # nobody asked twice
        # The streaming path still cannot change engine once it has sent a token.
        SWITCHES.update(p="ok", s="ok")
        assert (await text_of(runtime))[1] == "primary"


async def test_gathering_from_one_failing_engine_names_it(config: MakeConfig) -> None:
    SWITCHES.update(s="crash_mid_stream", c="fail")
    async with running_runtime(config()) as runtime:
        with pytest.raises(AllEnginesFailed) as caught:
            await runtime.current.router.gather(Capability.LLM, "fast", chat())
        assert [a.header() for a in caught.value.attempts] == ["secondary=failed_mid_stream"]
        assert caught.value.status == 503
        with pytest.raises(AllEnginesFailed) as caught:
            SWITCHES["p"] = "crash_mid_stream"
            await runtime.current.router.gather(Capability.LLM, None, chat())
        assert [a.header() for a in caught.value.attempts] == [
            "primary=failed_mid_stream",
            "secondary=failed_mid_stream",
            "cloud=unavailable",
        ]


async def test_every_engine_failing_names_each(config: MakeConfig) -> None:
    SWITCHES.update(p="fail", s="hang", c="fail")
    async with running_runtime(config()) as runtime:
        with pytest.raises(AllEnginesFailed) as caught:
            await collect(runtime)
        message = caught.value.message
        assert "primary: unavailable" in message
        assert "secondary: timeout" in message
        assert "cloud: unavailable" in message
        assert caught.value.status == 503


async def test_empty_route_is_a_clear_error(write_config: WriteConfig) -> None:
    path = write_config(
        "mode: api\nengines: {a: {capability: llm, engine: fake}}\nroutes: {llm: [a]}\n"
    )
    async with running_runtime(path) as runtime:
        with pytest.raises(NoEngineAvailable, match="mode 'api'"):
            await collect(runtime)
