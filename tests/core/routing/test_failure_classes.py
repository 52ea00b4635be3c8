"""What a failure means for the client and for the breaker: the request's fault (400, no
breaker count), busy (429 with Retry-After, even when fallbacks are absent), hung native code
(fall back at the deadline while the engine stays held), work a cancelled request left running
(waited for briefly), a provider's Retry-After (capped)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from core.config.schema import BreakerPolicy
from core.engines import ChatDelta, ChatMessage, ChatRequest, LLMEngine, Unsupported
from core.engines.base import Capability
from core.engines.embeddings import EmbeddingsEngine
from core.routing.breaker import BreakerState, CircuitBreaker
from core.routing.errors import AllEnginesFailed, Attempt
from core.runtime.runtime import Runtime
from tests.support import WriteConfig
from tests.support.fake_plugin import (
    CALLS,
    NATIVE_BLOCKED,
    NATIVE_RELEASE,
    STEPS_BEGUN,
    SWITCHES,
)
from tests.support.runtime import running_runtime


async def reply(
    runtime: Runtime, text: str = "hi", *, stream: bool = True, model: str | None = None
) -> tuple[str, str]:
    request = ChatRequest(messages=(ChatMessage("user", text),))

    def run(engine: LLMEngine) -> AsyncIterator[ChatDelta]:
        return engine.chat(request)

    router = runtime.current.router
    if stream:
        routed = await router.stream(Capability.LLM, model, run)
        return "".join([d.text async for d in routed]), routed.engine
    gathered = await router.gather(Capability.LLM, model, run)
    return "".join(d.text for d in gathered.value), gathered.engine


def test_status_follows_what_the_client_should_do() -> None:
    def failed(*reasons: str) -> AllEnginesFailed:
        return AllEnginesFailed(
            Capability.LLM, [Attempt(f"e{i}", r, "why") for i, r in enumerate(reasons)]
        )

    # Busy preferred engine, absent fallbacks: try later, not an outage.
    busy = failed("overloaded", "not_loaded", "breaker_open")
    assert busy.status == 429 and busy.retry_after is not None
    assert failed("rate_limited", "timeout").status == 429
    # Every engine refused what was asked: the request must change.
    refused = failed("unsupported", "unsupported")
    assert refused.status == 400 and refused.retry_after is None
    assert failed("unsupported", "timeout").status == 503
    # An engine that is not even loaded (a cloud engine without its key) changes nothing.
    assert failed("unsupported", "not_loaded").status == 400
    assert failed("not_loaded").status == 503
    assert failed("error").status == 503 and failed("error").retry_after is None
    assert failed("breaker_open", "not_loaded").retry_after is not None


def test_a_providers_retry_after_is_capped_by_max_cooldown() -> None:
    now = [0.0]
    breaker = CircuitBreaker(
        BreakerPolicy(failures=3, cooldown=1, max_cooldown=20), clock=lambda: now[0]
    )
    assert breaker.record_failure(retry_after=3600)
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_in == pytest.approx(20)
    now[0] = 20.5
    assert breaker.allow()  # back in the chain after max_cooldown, not an hour


UNSUPPORTED = """\
policy: {breaker: {failures: 1, cooldown: 30}}
engines:
  only: {capability: llm, engine: fake}
routes: {llm: [only]}
"""


async def test_input_no_engine_can_encode_is_a_400_and_never_trips(
    write_config: WriteConfig,
) -> None:
    async with running_runtime(write_config(UNSUPPORTED)) as runtime:
        slot = runtime.current.slots["only"]
        original = slot.engine.chat  # type: ignore[attr-defined]

        async def encodes(request: ChatRequest) -> AsyncIterator[ChatDelta]:
            request.messages[0].content.encode("utf-8")  # what a tokenizer does first
            async for delta in original(request):
                yield delta

        slot.engine.chat = encodes  # type: ignore[attr-defined]
        for stream in (True, False, True):
            with pytest.raises(Exception) as caught:
                await reply(runtime, "hi \ud800", stream=stream)
            assert getattr(caught.value, "status", None) == 400, caught.value
            assert "Unicode" in str(caught.value)
        assert slot.breaker.state is BreakerState.CLOSED
        assert slot.breaker.consecutive_failures == 0
        assert await reply(runtime) == ("hello from fake", "only")


async def test_every_engine_unsupported_is_a_400_naming_each(write_config: WriteConfig) -> None:
    path = write_config("""\
engines:
  en_only: {capability: llm, engine: fake}
  also_en: {capability: llm, engine: fake_cloud}
routes: {llm: [en_only, also_en]}
""")
    async with running_runtime(path) as runtime:

        def run(engine: LLMEngine) -> AsyncIterator[ChatDelta]:
            raise Unsupported(f"engine {engine.name!r} speaks English only")

        with pytest.raises(AllEnginesFailed) as caught:
            await runtime.current.router.stream(Capability.LLM, None, run)
        assert caught.value.status == 400
        assert "en_only" in caught.value.message and "also_en" in caught.value.message
        for slot in runtime.current.slots.values():
            assert slot.breaker.consecutive_failures == 0


BUSY_AND_ABSENT = """\
policy:
  queue_timeout: 0.2
  timeout: 5
  engines:
    local: {max_concurrency: 1, max_queue: 4}
engines:
  local: {capability: llm, engine: fake, settings: {delay: 0.1, reply: "a b c d e f"}}
  cloud: {capability: llm, engine: fake_cloud, settings: {fail_load: true}}
routes: {llm: [local, cloud]}
"""


async def test_busy_engine_with_an_unloadable_fallback_is_429(write_config: WriteConfig) -> None:
    async with running_runtime(write_config(BUSY_AND_ABSENT)) as runtime:
        first = asyncio.create_task(reply(runtime))
        await asyncio.sleep(0.05)
        with pytest.raises(AllEnginesFailed) as caught:
            await reply(runtime)
        error = caught.value
        assert error.status == 429, error.message
        assert error.retry_after is not None
        reasons = {a.engine: a.reason for a in error.attempts}
        assert reasons == {"local": "overloaded", "cloud": "not_loaded"}
        # Neither the queue wait nor the failed load counted against a breaker.
        for slot in runtime.current.slots.values():
            assert slot.breaker.consecutive_failures == 0
        # The failed load is not retried on every request.
        cloud = runtime.current.slots["cloud"]
        assert cloud.engine.loads == 1  # type: ignore[attr-defined]
        assert not first.done()
        with pytest.raises(AllEnginesFailed) as again:
            await reply(runtime)
        assert again.value.status == 429
        assert cloud.engine.loads == 1  # type: ignore[attr-defined]
        await first
        assert await reply(runtime) == ("a b c d e f", "local")


HUNG = """\
policy:
  timeout: 0.3
  breaker: {failures: 5, cooldown: 30}
  engines: {native: {max_concurrency: 1}, embed_native: {max_concurrency: 1}}
engines:
  native: {capability: llm, engine: fake, settings: {switch: n, reply: "from native"}}
  spare: {capability: llm, engine: fake, settings: {reply: "from spare"}}
  embed_native: {capability: embeddings, engine: fake, settings: {switch: n}}
  embed_spare: {capability: embeddings, engine: fake}
routes:
  llm: [native, spare]
  embeddings: [embed_native, embed_spare]
"""


async def test_a_hung_native_call_falls_back_at_its_deadline(write_config: WriteConfig) -> None:
    path = write_config(HUNG)
    SWITCHES["n"] = "native_hang"
    async with running_runtime(path) as runtime:
        slot = runtime.current.slots["native"]
        started = time.monotonic()
        assert await reply(runtime) == ("from spare", "spare")
        assert time.monotonic() - started < 5  # the deadline, not the hung call
        # The thread is still inside the call: the engine stays taken, so the next request
        # does not reach a model that is busy; it is served by the spare at once.
        assert NATIVE_BLOCKED == ["native"]
        assert slot.active == 1 and slot.lingering == 1
        # It timed out: hung, not about to stop, so nothing waits for it.
        assert slot.hung
        assert await reply(runtime, stream=False) == ("from spare", "spare")
        assert CALLS["native"] == 1

        async def embed(engine: EmbeddingsEngine) -> list[list[float]]:
            return (await engine.embed(["x"])).vectors

        routed = await runtime.current.router.call(Capability.EMBEDDINGS, None, embed)
        assert routed.engine == "embed_spare"
        assert runtime.current.slots["embed_native"].lingering == 1

        # Once the native call returns, the engine is free and serves again.
        SWITCHES["n"] = "ok"
        NATIVE_RELEASE.set()
        for _ in range(100):
            if slot.active == 0 and runtime.current.slots["embed_native"].active == 0:
                break
            await asyncio.sleep(0.02)
        assert slot.active == 0 and slot.lingering == 0 and not slot.hung
        assert await reply(runtime) == ("from native", "native")


STEPPED = """\
policy:
  engines: {native: {max_concurrency: 1, abandoned_grace: %s}}
engines:
  native:
    capability: llm
    engine: fake
    settings: {switch: s, delay: %s, reply: "one two three four five six"}
  spare: {capability: llm, engine: fake, settings: {reply: "from spare"}}
routes: {llm: [native, spare]}
"""


async def abandon_a_reply(runtime: Runtime) -> str:
    """Start a streamed reply, take its first word, and give up on it (a barge-in)."""
    request = ChatRequest(messages=(ChatMessage("user", "hi"),))

    def run(engine: LLMEngine) -> AsyncIterator[ChatDelta]:
        return engine.chat(request)

    STEPS_BEGUN.clear()
    routed = await runtime.current.router.stream(Capability.LLM, None, run)
    # Held on to: an iteration dropped unreferenced closes the stream whenever it is collected.
    words = aiter(routed)
    await anext(words)
    # Given up on only once the thread is inside its next step, as a barge-in usually finds it.
    for _ in range(500):
        if STEPS_BEGUN.get(routed.engine, 0) >= 2:
            break
        await asyncio.sleep(0.01)
    await routed.aclose()
    return routed.engine


async def test_a_request_waits_for_work_a_cancelled_request_left_running(
    write_config: WriteConfig,
) -> None:
    SWITCHES["s"] = "native_steps"
    # The default grace (10 s); a word takes 0.3 s.
    async with running_runtime(write_config(STEPPED % ("10s", 0.3))) as runtime:
        slot = runtime.current.slots["native"]
        assert await abandon_a_reply(runtime) == "native"
        # The thread is inside its next word: the engine is still held...
        assert slot.lingering == 1 and slot.active == 1
        # ...but only until that word is done, so the next request waits for it instead of
        # being refused (the next turn of a conversation after a barge-in).
        text, engine = await reply(runtime)
        assert engine == "native"
        assert text == "one two three four five six"
        assert slot.lingering == 0 and not slot.hung


async def test_work_that_does_not_stop_within_the_grace_is_passed_over(
    write_config: WriteConfig,
) -> None:
    SWITCHES["s"] = "native_steps"
    # A word takes 1.5 s, longer than the grace.
    async with running_runtime(write_config(STEPPED % (0.2, 1.5))) as runtime:
        slot = runtime.current.slots["native"]
        assert await abandon_a_reply(runtime) == "native"
        assert await reply(runtime) == ("from spare", "spare")
        assert slot.lingering == 1  # still inside its 1.5 s word
        # Past the grace, the chain moves on at once.
        assert await reply(runtime) == ("from spare", "spare")
