"""The router's breaker verdict on streams (a fix made for failover): a stream counts as a success
only once it has run to its end, so an engine that always breaks mid-stream trips its breaker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from core.engines import ChatDelta, ChatMessage, ChatRequest, LLMEngine
from core.engines.base import Capability
from core.routing.breaker import CircuitBreaker
from core.routing.errors import StreamInterrupted
from core.runtime.runtime import Runtime
from tests.support import WriteConfig
from tests.support.fake_plugin import CALLS, SWITCHES
from tests.support.runtime import running_runtime

CONFIG = """\
policy:
  timeout: 1
  breaker: {failures: 2, cooldown: 0.2, max_cooldown: 0.2}
engines:
  local: {capability: llm, engine: fake, settings: {reply: "local reply here", switch: local}}
  cloud: {capability: llm, engine: fake_cloud, settings: {reply: "cloud reply"}}
routes: {llm: [local, cloud]}
"""


def chat() -> Callable[[LLMEngine], AsyncIterator[ChatDelta]]:
    request = ChatRequest(messages=(ChatMessage("user", "hi"),))
    return lambda engine: engine.chat(request)


def state(breaker: CircuitBreaker) -> str:
    return breaker.state.value


async def full_reply(runtime: Runtime) -> tuple[str, str]:
    stream = await runtime.current.router.stream(Capability.LLM, None, chat())
    try:
        return stream.engine, "".join([d.text async for d in stream])
    except StreamInterrupted:
        return stream.engine, "<interrupted>"


async def test_engine_failing_mid_stream_every_time_trips_its_breaker(
    write_config: WriteConfig,
) -> None:
    SWITCHES["local"] = "crash_mid_stream"
    async with running_runtime(write_config(CONFIG)) as runtime:
        assert await full_reply(runtime) == ("local", "<interrupted>")
        assert await full_reply(runtime) == ("local", "<interrupted>")
        breaker = runtime.current.slots["local"].breaker
        assert state(breaker) == "open"
        assert await full_reply(runtime) == ("cloud", "cloud reply")
        assert CALLS["local"] == 2


async def test_probe_is_settled_by_the_end_of_its_stream(write_config: WriteConfig) -> None:
    SWITCHES["local"] = "fail"
    async with running_runtime(write_config(CONFIG)) as runtime:
        await full_reply(runtime)
        await full_reply(runtime)
        breaker = runtime.current.slots["local"].breaker
        assert state(breaker) == "open"
        SWITCHES["local"] = "ok"
        await asyncio.sleep(breaker.retry_in + 0.01)

        # A probe whose client leaves after the first token gives no verdict: the breaker stays
        # half-open and the next request may probe again.
        stream = await runtime.current.router.stream(Capability.LLM, None, chat())
        assert stream.engine == "local"
        await stream.aclose()
        assert state(breaker) == "half_open"

        # While a probe streams, other requests do not pile onto the recovering engine.
        probe = await runtime.current.router.stream(Capability.LLM, None, chat())
        assert probe.engine == "local"
        assert await full_reply(runtime) == ("cloud", "cloud reply")
        assert "".join([d.text async for d in probe]) == "local reply here"
        assert state(breaker) == "closed"
        assert await full_reply(runtime) == ("local", "local reply here")


async def test_a_healthy_stream_resets_the_failure_count(write_config: WriteConfig) -> None:
    SWITCHES["local"] = "crash_mid_stream"
    async with running_runtime(write_config(CONFIG)) as runtime:
        await full_reply(runtime)
        breaker = runtime.current.slots["local"].breaker
        assert breaker.consecutive_failures == 1
        SWITCHES["local"] = "ok"
        assert await full_reply(runtime) == ("local", "local reply here")
        assert breaker.consecutive_failures == 0


@pytest.fixture(autouse=True)
def _no_leftover_switches() -> None:
    SWITCHES.pop("local", None)
