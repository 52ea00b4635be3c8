"""The Valkey state backend against a real valkey-server: two backends stand for two daemons.

A recording listener stands in for the daemon side (the runtime-level wiring is tested in
test_shared_runtimes.py and, with real processes, in test_fleet.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from valkey.asyncio import Valkey

from core.config.schema import StateConfig
from core.engines.llm import ChatMessage
from core.observability.metrics import Metrics
from core.state.backend import BreakerNews, HistoryLimits
from core.state.rate import Rate
from core.state.valkey import ValkeyBackend
from tests.support.fleet_tools import ValkeyServer


class Recorder:
    """The daemon side of a backend: records what other daemons said."""

    def __init__(self) -> None:
        self.news: list[BreakerNews] = []
        self.open: list[BreakerNews] = []
        self.reloads = 0

    def breaker_news(self, news: BreakerNews) -> None:
        self.news.append(news)

    def open_breakers(self) -> list[BreakerNews]:
        return list(self.open)

    async def reload_for_fleet(self) -> dict[str, Any]:
        self.reloads += 1
        return {"ok": True, "generation": 7}


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


def settings(url: str, prefix: str, daemon: str) -> StateConfig:
    # Generous bounds: the test machine is small and shared.
    return StateConfig(
        backend="valkey",
        url=url,
        key_prefix=prefix,
        daemon_id=daemon,
        timeout=0.25,
        check_interval=0.2,
    )


@contextlib.asynccontextmanager
async def backend(
    url: str, prefix: str, daemon: str
) -> AsyncIterator[tuple[ValkeyBackend, Recorder, Metrics]]:
    metrics = Metrics()
    store = ValkeyBackend(settings(url, prefix, daemon), metrics)
    recorder = Recorder()
    await store.start(recorder)
    try:
        yield store, recorder, metrics
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def daemons(
    url: str, prefix: str, *names: str
) -> AsyncIterator[list[tuple[ValkeyBackend, Recorder, Metrics]]]:
    """One started backend per daemon name, all in the fleet of ``prefix``."""
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(backend(url, prefix, name)) for name in names]


async def eventually(check: Callable[[], bool], seconds: float = 10.0) -> None:
    """Poll ``check`` (bounded; a failure names what never happened)."""
    async with asyncio.timeout(seconds):
        while not check():
            await asyncio.sleep(0.02)


async def places_held(url: str, key: str) -> int:
    client = Valkey.from_url(url)
    try:
        return int(await client.zcard(key))
    finally:
        await client.aclose()


def gauge(metrics: Metrics, name: str) -> float | None:
    return metrics.registry.get_sample_value(name)


async def test_a_rate_limit_holds_across_daemons(valkey_server: ValkeyServer, prefix: str) -> None:
    async with daemons(valkey_server.url, prefix, "a", "b") as [(a, _, _), (b, _, _)]:
        assert a.status()["state"] == "connected"
        rate = Rate(3, 60)  # a burst of 3, then one every 20 s
        assert [await a.take("shared", rate), await b.take("shared", rate)] == [0, 0]
        assert await a.take("shared", rate) == 0
        waits = [await b.take("shared", rate), await a.take("shared", rate)]
        assert all(10 < wait <= 20 for wait in waits), waits
        assert await a.take("other", rate) == 0  # another name, another bucket


async def test_a_conversation_continues_on_another_daemon(
    valkey_server: ValkeyServer, prefix: str
) -> None:
    async with daemons(valkey_server.url, prefix, "a", "b") as [(a, _, _), (b, _, _)]:
        turn = [ChatMessage("user", "what time is it"), ChatMessage("assistant", "noon")]
        await a.remember("k:c1", turn, HistoryLimits(3, 10, 60))
        assert await b.history("k:c1", 60) == turn
        later = [ChatMessage("user", "and now?"), ChatMessage("assistant", "one", name="bot")]
        await b.remember("k:c1", later, HistoryLimits(3, 10, 60))
        assert await a.history("k:c1", 60) == [turn[1], *later]  # the newest three
        ttl = valkey_server.client().pttl(f"{prefix}:conversation:k:c1")
        assert 0 < ttl <= 60_000  # forgotten after its idle time
        assert await a.history("k:unknown", 60) == []


async def test_remembered_messages_another_daemon_garbled_are_not_served(
    valkey_server: ValkeyServer, prefix: str
) -> None:
    async with daemons(valkey_server.url, prefix, "a", "b") as [(a, _, _), (b, _, _)]:
        turn = [ChatMessage("user", "what time is it"), ChatMessage("assistant", "noon")]
        await a.remember("k:c1", turn, HistoryLimits(3, 10, 60))
        client = valkey_server.client()
        for garbled in (b'{"role": "user", "content": 5}', b'{"role": "x", "content": "hi"}'):
            client.rpush(f"{prefix}:conversation:k:c1", garbled)
            # a goes on with its own copy; b, which has none, with an empty history.
            assert await a.history("k:c1", 60) == turn
            assert await b.history("k:c1", 60) == []
            client.rpop(f"{prefix}:conversation:k:c1")


async def test_breaker_news_reaches_the_other_daemons(
    valkey_server: ValkeyServer, prefix: str
) -> None:
    async with daemons(valkey_server.url, prefix, "a", "b") as [
        (a, heard_by_a, _),
        (_, heard_by_b, _),
    ]:
        a.publish_breaker(BreakerNews("chat", "f1", 30.0))
        await eventually(lambda: len(heard_by_b.news) == 1)
        assert heard_by_b.news == [BreakerNews("chat", "f1", 30.0)]
        client = valkey_server.client()
        assert 0 < client.pttl(f"{prefix}:breaker:chat:f1") <= 30_000
        a.publish_breaker(BreakerNews("chat", "f1", 0.0))
        await eventually(lambda: len(heard_by_b.news) == 2)
        assert heard_by_b.news[1].open_for == 0
        assert client.exists(f"{prefix}:breaker:chat:f1") == 0
        assert heard_by_a.news == []  # a daemon does not hear itself


async def test_a_daemon_that_starts_later_learns_the_open_breakers(
    valkey_server: ValkeyServer, prefix: str
) -> None:
    async with backend(valkey_server.url, prefix, "a") as (a, _, _):
        a.publish_breaker(BreakerNews("chat", "f1", 30.0))
        client = valkey_server.client()
        await eventually(lambda: client.exists(f"{prefix}:breaker:chat:f1") == 1)
        async with backend(valkey_server.url, prefix, "c") as (_, heard_by_c, _):
            assert [n.engine for n in heard_by_c.news] == ["chat"]
            assert 10 < heard_by_c.news[0].open_for <= 30


async def test_store_down_serves_locally_then_resyncs(
    valkey_server: ValkeyServer, prefix: str
) -> None:
    async with daemons(valkey_server.url, prefix, "a", "b") as [
        (a, heard_by_a, metrics),
        (b, heard_by_b, _),
    ]:
        assert gauge(metrics, "voxgate_state_backend_up") == 1
        valkey_server.kill()

        # Every call still answers, from local state.
        assert await a.take("shared", Rate(1, 60)) == 0
        assert await a.take("shared", Rate(1, 60)) > 0
        turn = [ChatMessage("user", "hello"), ChatMessage("assistant", "hi")]
        await a.remember("k:c2", turn, HistoryLimits(4, 10, 60))
        assert await a.history("k:c2", 60) == turn
        await eventually(lambda: a.status()["state"] == "degraded")
        status = a.status()
        assert status["last_error"] and status["errors"] > 0
        assert gauge(metrics, "voxgate_state_backend_up") == 0
        assert (await a.reload_fleet(1.0))["error"].startswith("the state store is unreachable")

        # An engine trips on daemon a while the store is away; b hears of it once it is back.
        heard_by_a.open.append(BreakerNews("chat", "f1", 30.0))
        valkey_server.start()
        await eventually(lambda: a.status()["state"] == b.status()["state"] == "connected")
        await eventually(lambda: any(n.engine == "chat" for n in heard_by_b.news))
        assert gauge(metrics, "voxgate_state_backend_up") == 1


async def test_a_hung_store_does_not_hold_requests(
    valkey_server: ValkeyServer, prefix: str
) -> None:
    async with backend(valkey_server.url, prefix, "a") as (a, _, _):
        valkey_server.pause()
        try:
            async with asyncio.timeout(5):  # a bound for the test, not a timing claim
                assert await a.take("k", Rate(5, 1)) == 0
                assert await a.history("k:c3", 60) == []
            await eventually(lambda: a.status()["state"] == "degraded")
        finally:
            valkey_server.resume()
        await eventually(lambda: a.status()["state"] == "connected")


async def test_an_unreachable_store_at_start_is_retried_in_the_background(
    valkey_server: ValkeyServer, prefix: str
) -> None:
    valkey_server.kill()
    async with backend(valkey_server.url, prefix, "a") as (a, _, _):
        assert a.status()["state"] == "connecting"
        assert await a.take("k", Rate(5, 1)) == 0
        valkey_server.start()
        await eventually(lambda: a.status()["state"] == "connected")


async def test_a_fleet_reload_reaches_the_others_and_collects_their_answers(
    valkey_server: ValkeyServer, prefix: str
) -> None:
    async with (
        daemons(valkey_server.url, prefix, "a", "b", "c") as [
            (a, heard_by_a, _),
            (_, heard_by_b, _),
            (_, heard_by_c, _),
        ],
        backend(valkey_server.url, "another-fleet", "d") as (_, heard_by_d, _),
    ):
        report = await a.reload_fleet(10.0)
        assert report["reached"] == 2
        assert report["pending"] == 0
        assert report["daemons"] == {
            "b": {"ok": True, "generation": 7},
            "c": {"ok": True, "generation": 7},
        }
        assert (heard_by_a.reloads, heard_by_b.reloads, heard_by_c.reloads) == (0, 1, 1)
        assert heard_by_d.reloads == 0  # another prefix is another fleet


async def test_a_reload_answer_that_cannot_be_read_is_a_failed_daemon(
    valkey_server: ValkeyServer, prefix: str
) -> None:
    """An older or buggy daemon answering a fleet reload with something else than the answer
    this one expects does not fail the reload request itself."""
    old = Valkey.from_url(valkey_server.url)
    listening = old.pubsub(ignore_subscribe_messages=True)
    await listening.subscribe(f"{prefix}:events")

    async def answer_with_junk() -> None:
        while True:
            message = await listening.get_message(timeout=1.0)
            if message is not None and b'"reload"' in message["data"]:
                request = json.loads(message["data"])["id"]
                await old.hset(f"{prefix}:reload:{request}", "old-daemon", b"[1, 2")
                return

    try:
        async with backend(valkey_server.url, prefix, "a") as (a, _, _):
            answering = asyncio.create_task(answer_with_junk())
            report = await a.reload_fleet(10.0)
            await answering
        assert report["reached"] == 1
        answer = report["daemons"]["old-daemon"]
        assert answer["ok"] is False
        assert "not valid JSON" in answer["error"]["issues"][0]["message"]
    finally:
        await listening.aclose()
        await old.aclose()


async def test_credentials_stay_out_of_the_status(prefix: str) -> None:
    config = StateConfig(backend="valkey", url="valkey://user:secret@127.0.0.1:1/0")
    store = ValkeyBackend(config, Metrics())
    assert store.status()["url"] == "valkey://127.0.0.1:1/0"
    await store.close()


async def test_a_breaker_closed_while_the_store_hung_is_closed_for_all_after(
    valkey_server: ValkeyServer, prefix: str
) -> None:
    async with daemons(valkey_server.url, prefix, "a", "b") as [(a, _, _), (b, heard_by_b, _)]:
        a.publish_breaker(BreakerNews("chat", "f1", 30.0))
        await eventually(lambda: len(heard_by_b.news) == 1)
        valkey_server.pause()
        try:
            await eventually(lambda: a.status()["state"] == "degraded")
            a.publish_breaker(BreakerNews("chat", "f1", 0.0))  # a's probe worked: not sent now
        finally:
            valkey_server.resume()
        # a no longer has it open, so its resync withdraws its own stale trip.
        await eventually(lambda: a.status()["state"] == b.status()["state"] == "connected")
        await eventually(lambda: heard_by_b.news[-1].open_for == 0)
        assert valkey_server.client().exists(f"{prefix}:breaker:chat:f1") == 0


async def test_unreadable_events_are_ignored(valkey_server: ValkeyServer, prefix: str) -> None:
    async with daemons(valkey_server.url, prefix, "a", "b") as [(a, _, _), (b, heard_by_b, _)]:
        reader = b._link._reader
        client = valkey_server.client()
        forever = b'{"type": "breaker", "origin": "x", "engine": "chat", "fingerprint": "f1", '
        for junk in (
            b"not json",
            b"[]",
            b'{"type": "breaker", "origin": "x"}',
            b"[" * 100_000,  # deeper than the parser goes
            forever + b'"open_for": NaN}',  # would hold the breaker open for good
            forever + b'"open_for": 1e999}',
            b"\xff\xfe",
        ):
            client.publish(f"{prefix}:events", junk)
        a.publish_breaker(BreakerNews("chat", "f1", 30.0))
        await eventually(lambda: len(heard_by_b.news) == 1)
        assert heard_by_b.news == [BreakerNews("chat", "f1", 30.0)]
        assert b.status()["state"] == "connected"
        assert b._link._reader is reader  # the subscription lived through it all


async def test_odd_entries_in_the_breaker_index_do_not_keep_a_daemon_out(
    valkey_server: ValkeyServer, prefix: str
) -> None:
    """An older or buggy daemon may have left names that are not UTF-8, or keys of another
    type, in the index a joining daemon reads."""
    client = valkey_server.client()
    odd = prefix.encode() + b":breaker:\xff\xfe:f9"
    client.set(odd, b"\xff", px=30_000)
    client.hset(f"{prefix}:breaker:hashed:f2", "owner", "x")
    client.sadd(f"{prefix}:breakers", odd, f"{prefix}:breaker:hashed:f2")
    async with backend(valkey_server.url, prefix, "a") as (a, _, _):
        a.publish_breaker(BreakerNews("chat", "f1", 30.0))
        await eventually(lambda: client.exists(f"{prefix}:breaker:chat:f1") == 1)
        async with backend(valkey_server.url, prefix, "c") as (c, heard_by_c, _):
            await eventually(lambda: c.status()["state"] == "connected")
            assert "chat" in [n.engine for n in heard_by_c.news]


async def test_reconnection_attempts_back_off(valkey_server: ValkeyServer, prefix: str) -> None:
    async with backend(valkey_server.url, prefix, "a") as (a, _, _):
        valkey_server.kill()
        await eventually(lambda: a.status()["state"] == "degraded")
        before = a.status()["errors"]
        await asyncio.sleep(1.0)
        # Attempts 0.1, 0.2, 0.4 s apart and so on (a tight loop would make thousands).
        assert a.status()["errors"] - before < 10


async def test_fleet_places_are_shared_and_given_back(
    valkey_server: ValkeyServer, prefix: str
) -> None:
    async with daemons(valkey_server.url, prefix, "a", "b") as [(a, _, _), (b, _, _)]:
        held_by_a = await a.take_place("engine:chat", 2)
        held_by_b = await b.take_place("engine:chat", 2)
        assert held_by_a and held_by_b
        assert await a.take_place("engine:chat", 2) is None  # two places, both taken
        assert await b.take_place("engine:chat", 2) is None
        b.give_back("engine:chat", held_by_b)
        async with asyncio.timeout(10):
            while await places_held(valkey_server.url, f"{prefix}:places:engine:chat") != 1:
                await asyncio.sleep(0.02)
        assert await a.take_place("engine:chat", 2) is not None


async def test_a_daemon_that_stops_renewing_frees_its_places(
    valkey_server: ValkeyServer, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.state.valkey._PLACE_LEASE", 1.5)
    async with backend(valkey_server.url, prefix, "b") as (b, _, _):
        async with backend(valkey_server.url, prefix, "a") as (a, _, _):
            assert await a.take_place("engine:chat", 1) is not None
            await asyncio.sleep(2.5)  # longer than the lease: a renews what it holds
            assert await b.take_place("engine:chat", 1) is None
            a._held.clear()  # a dies without giving its place back: nobody renews it
        assert await places_held(valkey_server.url, f"{prefix}:places:engine:chat") == 1
        async with asyncio.timeout(10):
            while await b.take_place("engine:chat", 1) is None:
                await asyncio.sleep(0.1)


async def test_places_fall_back_to_this_daemon_while_the_store_is_away(
    valkey_server: ValkeyServer, prefix: str
) -> None:
    async with backend(valkey_server.url, prefix, "a") as (a, _, _):
        valkey_server.kill()
        await eventually(lambda: a.status()["state"] == "degraded")
        token = await a.take_place("engine:chat", 1)
        assert token is not None and token.startswith("local:")
        assert await a.take_place("engine:chat", 1) is None
        a.give_back("engine:chat", token)
        assert await a.take_place("engine:chat", 1) is not None
