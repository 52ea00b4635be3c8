"""Engine lifecycles: lazy and eager loading, one load at a time, idle unload, limits, drain."""

from __future__ import annotations

import asyncio

import pytest

from core.engines import ChatMessage, ChatRequest, EngineUnavailable, LLMEngine
from core.engines.base import Capability
from core.routing.errors import AllEnginesFailed
from core.runtime.runtime import Runtime
from core.runtime.slot import EngineState
from tests.support import WriteConfig
from tests.support.fake_plugin import FakeLLM
from tests.support.runtime import fake_catalog_factory, running_runtime

REQUEST = ChatRequest(messages=(ChatMessage("user", "hi"),))


async def ask(runtime: Runtime, model: str | None = None) -> str:
    async def run(engine: LLMEngine) -> str:
        return "".join([d.text async for d in engine.chat(REQUEST)])

    return (await runtime.current.router.call(Capability.LLM, model, run)).value


#: One engine, unloaded after ``keep_alive`` idle seconds.
BRIEF = """\
engines:
  brief: {{capability: llm, engine: fake, keep_alive: {keep_alive}}}
routes: {{llm: [brief]}}
"""


def engine_of(runtime: Runtime, name: str) -> FakeLLM:
    engine = runtime.current.slots[name].engine
    assert isinstance(engine, FakeLLM)
    return engine


async def test_lazy_by_default_and_eager_with_preload(write_config: WriteConfig) -> None:
    path = write_config("""\
engines:
  lazy: {capability: llm, engine: fake}
  eager: {capability: llm, engine: fake, preload: true}
routes: {llm: [lazy, eager]}
""")
    async with running_runtime(path) as runtime:
        assert runtime.current.slots["lazy"].state is EngineState.UNLOADED
        assert runtime.current.slots["eager"].state is EngineState.READY
        await ask(runtime)
        assert runtime.current.slots["lazy"].state is EngineState.READY


async def test_concurrent_first_requests_share_one_load(write_config: WriteConfig) -> None:
    path = write_config("""\
engines:
  slow: {capability: llm, engine: fake, settings: {load_delay: 0.2}}
routes: {llm: [slow]}
""")
    async with running_runtime(path) as runtime:
        results = await asyncio.gather(*(ask(runtime) for _ in range(5)))
        assert all(r == "hello from fake" for r in results)
        assert engine_of(runtime, "slow").loads == 1


async def test_failed_load_is_reported_and_falls_back(write_config: WriteConfig) -> None:
    path = write_config("""\
engines:
  broken: {capability: llm, engine: fake, settings: {fail_load: true}}
  backup: {capability: llm, engine: fake, settings: {reply: backup}}
routes: {llm: [broken, backup]}
""")
    async with running_runtime(path) as runtime:
        assert await ask(runtime) == "backup"
        status = runtime.status()["engines"]["broken"]
        assert status["lifecycle"] == "failed"
        assert "fake model file missing" in status["last_error"]


async def test_idle_engines_unload_and_reload_on_demand(write_config: WriteConfig) -> None:
    path = write_config(BRIEF.format(keep_alive=0.1))
    async with running_runtime(path) as runtime:
        await ask(runtime)
        engine = engine_of(runtime, "brief")
        slot = runtime.current.slots["brief"]
        for _ in range(50):
            if slot.state is EngineState.UNLOADED:
                break
            await asyncio.sleep(0.02)
        assert slot.state is EngineState.UNLOADED
        assert engine.closes == 1
        await ask(runtime)
        assert engine.loads == 2 and slot.state is EngineState.READY


async def test_concurrency_limit_queues_then_refuses(write_config: WriteConfig) -> None:
    path = write_config("""\
policy:
  timeout: 5
  engines:
    single: {max_concurrency: 1, max_queue: 1}
engines:
  single: {capability: llm, engine: fake, settings: {delay: 0.1}}
routes: {llm: [single]}
""")
    async with running_runtime(path) as runtime:
        first = asyncio.create_task(ask(runtime))
        await asyncio.sleep(0.02)
        second = asyncio.create_task(ask(runtime))  # waits in the queue
        await asyncio.sleep(0.02)
        slot = runtime.current.slots["single"]
        assert (slot.active, slot.waiting) == (1, 1)
        with pytest.raises(AllEnginesFailed) as caught:
            await ask(runtime)
        assert caught.value.status == 429
        assert await first == await second == "hello from fake"


async def test_overload_moves_on_to_the_next_engine(write_config: WriteConfig) -> None:
    path = write_config("""\
policy:
  engines:
    busy: {max_concurrency: 1, max_queue: 0}
engines:
  busy: {capability: llm, engine: fake, settings: {delay: 0.2}}
  spare: {capability: llm, engine: fake, settings: {reply: spare}}
routes: {llm: [busy, spare]}
""")
    async with running_runtime(path) as runtime:
        first = asyncio.create_task(ask(runtime))
        await asyncio.sleep(0.05)
        assert await ask(runtime) == "spare"
        assert runtime.current.slots["busy"].breaker.consecutive_failures == 0
        await first


async def test_slot_refuses_when_closed(write_config: WriteConfig) -> None:
    path = write_config("engines: {a: {capability: llm, engine: fake}}\nroutes: {llm: [a]}\n")
    async with running_runtime(path) as runtime:
        slot = runtime.current.slots["a"]
        await slot.close()
        with pytest.raises(EngineUnavailable, match="closed"):
            async with slot.use():
                pass


async def test_shutdown_drains_in_flight_requests(write_config: WriteConfig) -> None:
    path = write_config("""\
engines:
  slow: {capability: llm, engine: fake, settings: {delay: 0.1, reply: "a b c"}}
routes: {llm: [slow]}
""")
    runtime = Runtime(path, catalog_factory=fake_catalog_factory())
    await runtime.start()

    async def leased_request() -> str:
        async with runtime.lease():
            return await ask(runtime)

    task = asyncio.create_task(leased_request())
    await asyncio.sleep(0.05)
    await runtime.shutdown(drain_timeout=5)
    assert await task == "a b c"
    engine = runtime.current.slots["slow"]
    assert engine.state is EngineState.CLOSED


async def test_a_request_during_idle_unload_waits_and_loads_again(
    write_config: WriteConfig,
) -> None:
    path = write_config(BRIEF.format(keep_alive=0.05))
    async with running_runtime(path) as runtime:
        await ask(runtime)
        slot = runtime.current.slots["brief"]
        engine = engine_of(runtime, "brief")
        closing = asyncio.Event()
        release = asyncio.Event()

        async def slow_close() -> None:  # an engine whose close takes a while (freeing a model)
            closing.set()
            await release.wait()
            engine.closes += 1

        engine.close = slow_close  # type: ignore[method-assign]
        await asyncio.wait_for(closing.wait(), 2)
        # Mid-unload the engine must not read as ready, and a request must not get it.
        assert slot.state is EngineState.UNLOADING
        assert runtime.status()["engines"]["brief"]["lifecycle"] == "unloading"
        request = asyncio.create_task(ask(runtime))
        await asyncio.sleep(0.05)
        assert not request.done() and engine.loads == 1
        release.set()
        assert await asyncio.wait_for(request, 2) == "hello from fake"
        assert engine.closes == 1 and engine.loads == 2


async def test_a_concurrency_change_on_reload_applies_to_waiting_requests(
    write_config: WriteConfig,
) -> None:
    text = """\
policy:
  engines:
    single: {{max_concurrency: {n}, max_queue: 8}}
engines:
  single: {{capability: llm, engine: fake, settings: {{delay: 0.2, reply: "a b"}}}}
routes: {{llm: [single]}}
"""
    path = write_config(text.format(n=1))
    async with running_runtime(path) as runtime:
        slot = runtime.current.slots["single"]
        tasks = [asyncio.create_task(ask(runtime)) for _ in range(3)]
        await asyncio.sleep(0.05)
        assert (slot.active, slot.waiting) == (1, 2)
        path.write_text(text.format(n=3))
        assert (await runtime.reload("test")).ok
        assert runtime.current.slots["single"] is slot  # same engine, new limit
        await asyncio.sleep(0.02)
        assert (slot.active, slot.waiting) == (3, 0)
        assert await asyncio.gather(*tasks) == ["a b"] * 3
