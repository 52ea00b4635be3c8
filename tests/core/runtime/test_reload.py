"""Hot reload: only changed engines rebuild, bad files change nothing, requests never fail."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from core.engines import ChatMessage, ChatRequest, LLMEngine
from core.engines.base import Capability
from core.runtime.runtime import Runtime
from core.runtime.slot import EngineState
from core.runtime.watcher import watch_config_file
from tests.support import WriteConfig
from tests.support.fake_plugin import FakeLLM
from tests.support.runtime import running_runtime

REQUEST = ChatRequest(messages=(ChatMessage("user", "hi"),))

BASE = """\
engines:
  keep: {{capability: llm, engine: fake, preload: true, settings: {{reply: keep}}}}
  swap: {{capability: llm, engine: fake, preload: true, settings: {{reply: "{swap}"}}}}
{extra}routes:
  llm: [{chain}]
"""


def config_text(swap: str = "v1", chain: str = "keep, swap", extra: str = "") -> str:
    return BASE.format(swap=swap, chain=chain, extra=extra)


async def ask(runtime: Runtime, model: str | None = None) -> str:
    async with runtime.lease() as generation:

        async def run(engine: LLMEngine) -> str:
            return "".join([d.text async for d in engine.chat(REQUEST)])

        return (await generation.router.call(Capability.LLM, model, run)).value


async def test_only_changed_engines_are_rebuilt(write_config: WriteConfig) -> None:
    path: Path = write_config(config_text())
    async with running_runtime(path) as runtime:
        keep_slot = runtime.current.slots["keep"]
        old_swap = runtime.current.slots["swap"]
        path.write_text(config_text(swap="v2", extra="  added: {capability: llm, engine: fake}\n"))
        result = await runtime.reload("test")
        assert result.ok, result.error
        assert result.unchanged == ["keep"]
        assert result.changed == ["swap"]
        assert result.added == ["added"]
        assert runtime.current.slots["keep"] is keep_slot
        keep_engine = keep_slot.engine
        assert isinstance(keep_engine, FakeLLM) and keep_engine.loads == 1
        # The replaced engine was warmed before the swap, since the old one was loaded.
        assert runtime.current.slots["swap"].state is EngineState.READY
        assert await ask(runtime, "swap") == "v2"
        await asyncio.sleep(0.05)
        assert old_swap.state is EngineState.CLOSED


async def test_removed_engines_drain_before_closing(write_config: WriteConfig) -> None:
    path: Path = write_config(config_text(swap="a b c d"))
    async with running_runtime(path) as runtime:
        # Slow the engine so a request is in flight across the reload.
        swap = runtime.current.slots["swap"]
        engine = swap.engine
        assert isinstance(engine, FakeLLM)
        object.__setattr__(engine.settings, "delay", 0.05)
        in_flight = asyncio.create_task(ask(runtime, "swap"))
        await asyncio.sleep(0.02)
        path.write_text(
            config_text(chain="keep").replace(
                '  swap: {capability: llm, engine: fake, preload: true, settings: {reply: "v1"}}\n',
                "",
            )
        )
        result = await runtime.reload("test")
        assert result.ok and result.removed == ["swap"]
        assert swap.state is EngineState.READY  # still serving the old request
        assert await in_flight == "a b c d"
        await asyncio.sleep(0.05)
        assert swap.state is EngineState.CLOSED


async def test_invalid_file_changes_nothing(write_config: WriteConfig) -> None:
    path: Path = write_config(config_text())
    async with running_runtime(path) as runtime:
        generation = runtime.current.number
        path.write_text(config_text().replace("engine: fake, preload", "engine: nope, preload"))
        result = await runtime.reload("test")
        assert not result.ok
        assert runtime.current.number == generation
        assert await ask(runtime) == "keep"
        status = runtime.status()
        issue = status["last_reload"]["error"]["issues"][0]
        assert issue["path"] == "engines.keep.engine" and issue["line"] == 2
        path.write_text("engines: [not, a, mapping\n")
        assert not (await runtime.reload("test")).ok
        assert await ask(runtime) == "keep"


async def test_file_change_triggers_a_debounced_reload(write_config: WriteConfig) -> None:
    path: Path = write_config(config_text())
    async with running_runtime(path) as runtime:
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch_config_file(runtime, 0.05, stop))
        await asyncio.sleep(0.3)
        path.write_text(config_text(swap="watched"))
        for _ in range(100):
            if runtime.current.number > 1:
                break
            await asyncio.sleep(0.05)
        assert await ask(runtime, "swap") == "watched"
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(watcher, 5)


async def test_requests_never_fail_while_the_file_is_rewritten(write_config: WriteConfig) -> None:
    """Requests flow continuously while the YAML is rewritten and reloaded many times."""
    path: Path = write_config(config_text())
    async with running_runtime(path) as runtime:
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch_config_file(runtime, 0.02, stop))
        failures: list[BaseException] = []
        served = 0
        done = asyncio.Event()

        async def client() -> None:
            nonlocal served
            while not done.is_set():
                try:
                    await ask(runtime)
                    served += 1
                except Exception as exc:
                    failures.append(exc)
                await asyncio.sleep(0)

        clients = [asyncio.create_task(client()) for _ in range(8)]
        for round_ in range(30):
            chain = "keep, swap" if round_ % 2 else "swap, keep"
            path.write_text(config_text(swap=f"v{round_}", chain=chain))
            if round_ % 3 == 0:
                await runtime.reload("test")
            await asyncio.sleep(0.03)
        await asyncio.sleep(0.2)
        done.set()
        await asyncio.gather(*clients)
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(watcher, 5)
        assert failures == []
        assert served > 100
        assert runtime.current.number > 10
        keep = runtime.current.slots["keep"].engine
        assert isinstance(keep, FakeLLM) and keep.loads == 1


async def test_a_failed_load_keeps_the_old_engine_and_settings(write_config: WriteConfig) -> None:
    """All or nothing: a changed engine that cannot load leaves everything as it was, the
    unchanged engines' settings included, and the reload says it failed."""
    policy = "policy:\n  breaker: {{failures: {n}}}\n"
    path: Path = write_config(policy.format(n=3) + config_text())
    async with running_runtime(path) as runtime:
        generation = runtime.current.number
        keep = runtime.current.slots["keep"]
        old_swap = runtime.current.slots["swap"]
        broken = config_text(swap="v2").replace(
            'settings: {reply: "v2"}', 'settings: {reply: "v2", fail_load: true}'
        )
        path.write_text(policy.format(n=7) + broken)
        result = await runtime.reload("test")
        assert not result.ok
        assert "swap" in result.failed_loads
        assert result.error is not None
        assert result.error["issues"][0]["path"] == "engines.swap"
        assert runtime.current.number == generation
        assert runtime.current.slots["swap"] is old_swap
        assert old_swap.state is EngineState.READY
        assert keep.breaker.policy.failures == 3  # not half-applied
        assert await ask(runtime, "swap") == "v1"
        assert runtime.status()["last_reload"]["ok"] is False


async def test_old_generations_drain_within_a_bound(write_config: WriteConfig) -> None:
    path: Path = write_config("reload: {drain_timeout: 0.2}\n" + config_text())
    async with running_runtime(path) as runtime:
        old_swap = runtime.current.slots["swap"]
        stuck = runtime.acquire()  # a socket that never lets go of its generation
        path.write_text("reload: {drain_timeout: 0.2}\n" + config_text(swap="v2"))
        assert (await runtime.reload("test")).ok
        await asyncio.sleep(0.5)
        assert old_swap.state is EngineState.CLOSED
        stuck.release()


async def test_a_file_still_being_written_is_read_once_it_settles(
    write_config: WriteConfig,
) -> None:
    path: Path = write_config(config_text())
    async with running_runtime(path) as runtime:
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch_config_file(runtime, 0.02, stop))
        await asyncio.sleep(0.3)
        final = config_text(swap="settled")
        # A slow writer: the file grows in pieces, each of which is a valid YAML prefix.
        with path.open("w", encoding="utf-8") as out:
            for start in range(0, len(final), 40):
                out.write(final[start : start + 40])
                out.flush()
                await asyncio.sleep(0.05)
        for _ in range(100):
            if await ask(runtime, "swap") == "settled":
                break
            await asyncio.sleep(0.05)
        assert await ask(runtime, "swap") == "settled"
        assert await ask(runtime) == "keep"
        # No half-written version was ever read: not one reload failed on the way.
        assert runtime.metrics.reloads.labels("failed")._value.get() == 0
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(watcher, 5)


async def test_a_reload_names_the_settings_that_wait_for_a_restart(
    write_config: WriteConfig,
) -> None:
    path: Path = write_config(config_text())
    async with running_runtime(path) as runtime:
        # The listener keeps its port and limits until the daemon starts again; the reload
        # takes the rest and says so instead of answering a plain ok.
        server = "server: {port: 9999, max_connections: 64, cors_origins: ['https://a.example']}\n"
        path.write_text(config_text(swap="v2", extra=server))
        result = await runtime.reload("test")
        assert result.ok, result.error
        assert result.changed == ["swap"]
        assert result.needs_restart == ["server.port", "server.max_connections"]
        assert result.as_dict()["needs_restart"] == ["server.port", "server.max_connections"]
        path.write_text(config_text(swap="v3"))
        assert (await runtime.reload("test")).needs_restart == []
