"""Runtimes sharing one Valkey, in one process: breakers tripped on one are skipped on the
others (only where the engine is configured the same), a probe that succeeds on one closes them
everywhere, and a fleet reload reaches every runtime."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable

from core.routing.breaker import BreakerState
from core.runtime.runtime import Runtime
from tests.support import WriteConfig
from tests.support.daemon import asgi_client
from tests.support.fake_plugin import CALLS, SWITCHES
from tests.support.fleet_tools import ValkeyServer
from tests.support.runtime import running_runtime

CONFIG = """\
state: {{backend: valkey, url: "{url}", key_prefix: {prefix}, daemon_id: {name},
         timeout: 250ms, check_interval: 200ms}}
reload: {{watch: false}}
policy: {{breaker: {{failures: 2, cooldown: 2s}}}}
engines:
  flaky: {{capability: llm, engine: fake, settings: {{reply: "{reply}", switch: flaky}}}}
  backup: {{capability: llm, engine: fake, settings: {{reply: from backup}}}}
routes: {{llm: [flaky, backup]}}
"""
BODY = {"messages": [{"role": "user", "content": "hi"}]}


async def eventually(check: Callable[[], bool], seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not check():
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def fleet(
    write_config: WriteConfig, server: ValkeyServer, *replies: str
) -> AsyncIterator[list[Runtime]]:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    async with contextlib.AsyncExitStack() as stack:
        runtimes = []
        for index, reply in enumerate(replies):
            name = f"d{index}"
            text = CONFIG.format(url=server.url, prefix=prefix, name=name, reply=reply)
            config = write_config(text, f"{name}.yaml")
            runtimes.append(await stack.enter_async_context(running_runtime(config)))
        yield runtimes


def flaky_breaker(runtime: Runtime) -> BreakerState:
    return runtime.current.slots["flaky"].breaker.state


async def test_a_trip_on_one_daemon_is_skipped_by_the_others(
    write_config: WriteConfig, valkey_server: ValkeyServer
) -> None:
    same, other = "from flaky", "configured otherwise"
    async with fleet(write_config, valkey_server, same, same, other) as (a, b, c):
        SWITCHES["flaky"] = "fail"
        async with asgi_client(a) as client:
            for _ in range(2):
                response = await client.post("/v1/chat/completions", json=BODY)
                assert response.headers["x-voxgate-engine"] == "backup"
        assert flaky_breaker(a) is BreakerState.OPEN
        await eventually(lambda: flaky_breaker(b) is BreakerState.OPEN)
        SWITCHES.clear()  # healthy again: only the shared breaker keeps b away from it

        async with asgi_client(b) as client:
            response = await client.post("/v1/chat/completions", json=BODY)
            status = (await client.get("/control/status")).json()
        assert response.headers["x-voxgate-engine"] == "backup"
        assert response.headers["x-voxgate-fallback"] == "flaky=breaker_open"
        assert CALLS["flaky"] == 2  # the two failures on a; b never asked it
        assert status["engines"]["flaky"]["state"] == "breaker_open"
        assert status["state"]["state"] == "connected"
        assert status["state"]["daemon_id"] == "d1"
        # c's flaky is another engine (other settings, other fingerprint): not its business.
        assert flaky_breaker(c) is BreakerState.CLOSED

        # After the cooldown a's probe succeeds and closes the breaker on b too, with no
        # request to b (its own breaker only moves on when a request asks it).
        await asyncio.sleep(2.0)
        async with asgi_client(a) as client:
            response = await client.post("/v1/chat/completions", json=BODY)
        assert response.headers["x-voxgate-engine"] == "flaky"
        await eventually(lambda: flaky_breaker(b) is BreakerState.CLOSED)


async def test_a_fleet_reload_reloads_every_daemon(
    write_config: WriteConfig, valkey_server: ValkeyServer
) -> None:
    async with fleet(write_config, valkey_server, "one", "one", "one") as (a, b, c):
        async with asgi_client(a) as client:
            response = await client.post("/control/reload", params={"fleet": "true"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["ok"] and body["generation"] == 2
        fleet_report = body["fleet"]
        assert fleet_report["reached"] == 2 and fleet_report["pending"] == 0
        assert set(fleet_report["daemons"]) == {"d1", "d2"}
        assert all(answer["ok"] for answer in fleet_report["daemons"].values())
        assert (a.current.number, b.current.number, c.current.number) == (2, 2, 2)
        assert b.last_reload is not None and b.last_reload.trigger == "fleet"

        # Each daemon reads its own file: a broken one is reported, and keeps its config.
        c.config_path.write_text("engines: {flaky: {capability: llm, engine: nope}}\n")
        report = await a.state.reload_fleet(10.0)
        assert report["daemons"]["d1"]["ok"]
        broken = report["daemons"]["d2"]
        assert not broken["ok"] and broken["generation"] is None
        assert "engines.flaky.engine" in {i["path"] for i in broken["error"]["issues"]}
        assert c.current.number == 2


PLACES_CONFIG = """\
state: {{backend: valkey, url: "{url}", key_prefix: {prefix}, daemon_id: {name},
         timeout: 250ms, check_interval: 200ms}}
reload: {{watch: false}}
policy: {{engines: {{slow: {{fleet_concurrency: 1}}}}}}
engines:
  slow: {{capability: llm, engine: fake, settings: {{reply: from slow, delay: 1.0, chunks: 1}}}}
  backup: {{capability: llm, engine: fake, settings: {{reply: from backup}}}}
routes: {{llm: [slow, backup]}}
"""


async def test_a_fleet_concurrency_limit_holds_across_daemons(
    write_config: WriteConfig, valkey_server: ValkeyServer
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    async with contextlib.AsyncExitStack() as stack:
        a, b = [
            await stack.enter_async_context(
                running_runtime(
                    write_config(
                        PLACES_CONFIG.format(url=valkey_server.url, prefix=prefix, name=name),
                        f"{name}.yaml",
                    )
                )
            )
            for name in ("a", "b")
        ]
        client_a = await stack.enter_async_context(asgi_client(a))
        client_b = await stack.enter_async_context(asgi_client(b))
        first = asyncio.create_task(client_a.post("/v1/chat/completions", json=BODY))
        await eventually(lambda: a.current.slots["slow"].active == 1)
        # a holds the fleet's one place: b's own slot is free, yet the chain moves on.
        moved_on = await client_b.post("/v1/chat/completions", json=BODY)
        assert moved_on.headers["x-voxgate-engine"] == "backup"
        assert moved_on.headers["x-voxgate-fallback"].startswith("slow=")
        assert b.current.slots["slow"].breaker.state is BreakerState.CLOSED  # busy, not broken
        assert (await first).headers["x-voxgate-engine"] == "slow"
        # given back when a's request ended (in the background: allow it a moment)
        async with asyncio.timeout(10):
            while True:
                again = await client_b.post("/v1/chat/completions", json=BODY)
                if again.headers["x-voxgate-engine"] == "slow":
                    break
                await asyncio.sleep(0.05)
