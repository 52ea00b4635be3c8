"""The Valkey state backend: one store shared by every daemon of a fleet.

Keys, under ``state.key_prefix`` (``p``):

- ``p:breaker:<engine>:<fingerprint>``: present while that engine's breaker is open somewhere
  (it expires when the breaker would let a probe through); its value names the daemon.
  ``p:breakers`` lists these keys, so a resync reads them without scanning the keyspace.
- ``p:rate:<name>``: one GCRA bucket (:mod:`core.state.rate`), updated by a Lua script.
- ``p:conversation:<key>``: a conversation's messages (JSON), expiring after its idle time.
- ``p:reload:<id>``: the daemons' answers to one fleet reload.

The channel ``p:events`` carries breaker changes and reload requests to every daemon.

Every call is bounded by ``state.timeout``. A call that fails is answered from local state (an
in-process backend kept beside this one, which also holds a copy of each conversation) and makes
the supervisor check the connection at once. While the store cannot be reached the daemon runs
on local state alone; when it answers again the daemon subscribes again and resyncs its
breakers: it publishes those it has open and applies those the others have.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import structlog
from valkey.asyncio import Valkey
from valkey.asyncio.client import PubSub

from core.config.schema import StateConfig
from core.engines.llm import ChatMessage
from core.observability.metrics import Metrics
from core.state.backend import BreakerNews, FleetListener
from core.state.memory import MemoryBackend
from core.state.rate import Rate
from core.state.valkey_scripts import GCRA

log = structlog.get_logger(__name__)

T = TypeVar("T")

#: How long the daemons' answers to a fleet reload are kept for the daemon that asked.
_RELOAD_ANSWERS_TTL = 300
#: Breaker changes waiting to be sent; beyond this they are dropped (a resync sends them again).
_OUTBOX = 1024
#: First pause before another connection attempt; it doubles up to ``check_interval``.
_FIRST_BACKOFF = 0.1
#: Least time between two connection checks while the store answers.
_CHECK_SPACING = 0.25


class ValkeyBackend:
    kind = "valkey"

    def __init__(self, config: StateConfig, metrics: Metrics, password: str | None = None) -> None:
        self._config = config
        self._metrics = metrics
        self.daemon_id = config.daemon_id or f"{socket.gethostname()}:{os.getpid()}"
        #: Tells this process's own messages apart even if two daemons were given one name.
        self._instance = uuid.uuid4().hex[:12]
        self.local = MemoryBackend()
        self._prefix = config.key_prefix
        self._channel = f"{self._prefix}:events"
        self._index = f"{self._prefix}:breakers"
        self._client = Valkey.from_url(
            config.url,
            password=password,
            socket_timeout=config.timeout,
            socket_connect_timeout=config.timeout,
        )
        self._gcra = self._client.register_script(GCRA)
        self._listener: FleetListener | None = None
        self._up = False
        self._ever_up = False
        self._changed_at = time.monotonic()
        self._last_error: str | None = None
        self._errors = 0
        self._wake = asyncio.Event()
        self._first_try = asyncio.Event()
        self._outbox: asyncio.Queue[BreakerNews] = asyncio.Queue(_OUTBOX)
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._answers: set[asyncio.Task[None]] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, listener: FleetListener) -> None:
        self._listener = listener
        self._metrics.state_up.set(0)
        self._tasks = [
            asyncio.create_task(self._supervise(), name="state-supervisor"),
            asyncio.create_task(self._send_breakers(), name="state-breakers"),
        ]
        # A reachable store is in use from the first request; an unreachable one does not hold
        # up the start (it is retried in the background).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(1.0, self._config.timeout * 20)):
                await self._first_try.wait()

    async def close(self) -> None:
        for task in [*self._tasks, *self._answers]:
            task.cancel()
        for task in [*self._tasks, *self._answers]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._drop_subscription()
        with contextlib.suppress(Exception):
            await self._client.aclose()

    def status(self) -> dict[str, Any]:
        state = "connected" if self._up else "degraded" if self._ever_up else "connecting"
        return {
            "backend": self.kind,
            "state": state,
            "url": _without_credentials(self._config.url),
            "key_prefix": self._prefix,
            "daemon_id": self.daemon_id,
            "since_seconds": round(time.monotonic() - self._changed_at, 1),
            "errors": self._errors,
            "last_error": self._last_error,
        }

    # -- rate limits and conversations (on a request's path) ---------------------------------

    async def take(self, key: str, rate: Rate) -> float:
        if self._up:
            try:
                waited = await self._bounded(
                    self._gcra(
                        keys=[f"{self._prefix}:rate:{key}"],
                        args=[rate.interval * 1000, rate.burst],
                    )
                )
                return float(waited) / 1000
            except Exception as exc:
                self._trouble("rate_limit", exc)
        return await self.local.take(key, rate)

    async def history(self, key: str, idle_ttl: float) -> list[ChatMessage]:
        if self._up:
            try:
                items = await self._bounded(
                    self._client.lrange(f"{self._prefix}:conversation:{key}", 0, -1)
                )
                return [_message(item) for item in items]
            except Exception as exc:
                self._trouble("conversation", exc)
        return await self.local.history(key, idle_ttl)

    async def remember(
        self,
        key: str,
        turn: list[ChatMessage],
        *,
        max_messages: int,
        max_conversations: int,
        idle_ttl: float,
    ) -> None:
        # The local copy carries the conversation on this daemon while the store is away.
        await self.local.remember(
            key,
            turn,
            max_messages=max_messages,
            max_conversations=max_conversations,
            idle_ttl=idle_ttl,
        )
        if not self._up:
            return
        name = f"{self._prefix}:conversation:{key}"
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                if max_messages == 0:
                    pipe.delete(name)
                else:
                    pipe.rpush(name, *(_encoded(m) for m in turn))
                    pipe.ltrim(name, -max_messages, -1)
                    pipe.pexpire(name, max(1, int(idle_ttl * 1000)))
                await self._bounded(pipe.execute())
        except Exception as exc:
            self._trouble("conversation", exc)

    # -- breakers ----------------------------------------------------------------------------

    def publish_breaker(self, news: BreakerNews) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._outbox.put_nowait(news)

    async def _send_breakers(self) -> None:
        """One sender, so the other daemons hear one engine's changes in the order they
        happened."""
        while True:
            news = await self._outbox.get()
            if not self._up:
                continue  # the resync after reconnecting publishes what is still open
            try:
                await self._bounded(self._write_breaker(news))
            except Exception as exc:
                self._trouble("breaker", exc)

    async def _write_breaker(self, news: BreakerNews) -> None:
        name = f"{self._prefix}:breaker:{news.engine}:{news.fingerprint}"
        event = {
            "type": "breaker",
            "origin": self._instance,
            "engine": news.engine,
            "fingerprint": news.fingerprint,
            "open_for": news.open_for,
        }
        async with self._client.pipeline(transaction=False) as pipe:
            if news.open_for > 0:
                pipe.set(name, self._instance, px=max(1, int(news.open_for * 1000)))
                pipe.sadd(self._index, name)
            else:
                pipe.delete(name)
                pipe.srem(self._index, name)
            pipe.publish(self._channel, json.dumps(event))
            await pipe.execute()

    async def _resync(self, listener: FleetListener) -> None:
        """After (re)connecting: publish this daemon's open breakers, drop its stale ones
        (closed while the store was away) and apply every other daemon's."""
        mine = {(n.engine, n.fingerprint): n for n in listener.open_breakers()}
        for news in mine.values():
            await self._write_breaker(news)
        names = sorted(await self._client.smembers(self._index))
        if not names:
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.get(name)
                pipe.pttl(name)
            replies = await pipe.execute()
        expired = []
        for index, name in enumerate(names):
            owner, ttl_ms = replies[2 * index], replies[2 * index + 1]
            engine, _, fingerprint = name.decode()[len(self._prefix) + 9 :].rpartition(":")
            if owner is None or ttl_ms is None or ttl_ms <= 0:
                expired.append(name)
            elif (engine, fingerprint) in mine:
                continue
            elif owner.decode() == self._instance:  # closed here while the store was away
                await self._write_breaker(BreakerNews(engine, fingerprint, 0.0))
            else:
                listener.breaker_news(BreakerNews(engine, fingerprint, ttl_ms / 1000))
        if expired:
            await self._client.srem(self._index, *expired)

    # -- fleet reload ------------------------------------------------------------------------

    async def reload_fleet(self, wait: float) -> dict[str, Any]:
        report: dict[str, Any] = {"backend": self.kind, "reached": 0, "daemons": {}, "pending": 0}
        if not self._up:
            report["error"] = f"the state store is unreachable ({self._last_error})"
            return report
        request = uuid.uuid4().hex[:16]
        event = {"type": "reload", "origin": self._instance, "id": request}
        try:
            receivers = await self._bounded(self._client.publish(self._channel, json.dumps(event)))
        except Exception as exc:
            self._trouble("reload", exc)
            report["error"] = f"the reload could not be broadcast ({self._last_error})"
            return report
        expected = max(int(receivers) - 1, 0)  # this daemon hears its own request too
        report["reached"] = expected
        answers: dict[bytes, bytes] = {}
        deadline = time.monotonic() + wait
        while expected and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            with contextlib.suppress(Exception):
                answers = await self._bounded(
                    self._client.hgetall(f"{self._prefix}:reload:{request}")
                )
            if len(answers) >= expected:
                break
        report["daemons"] = _by_daemon(answers)
        report["pending"] = max(expected - len(answers), 0)
        return report

    async def _answer_reload(self, request: str, listener: FleetListener) -> None:
        summary = {"daemon": self.daemon_id, **await listener.reload_for_fleet()}
        name = f"{self._prefix}:reload:{request}"
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.hset(name, self._instance, json.dumps(summary))
                pipe.expire(name, _RELOAD_ANSWERS_TTL)
                await self._bounded(pipe.execute())
        except Exception as exc:
            self._trouble("reload", exc)

    # -- the connection ----------------------------------------------------------------------

    async def _supervise(self) -> None:
        backoff = _FIRST_BACKOFF
        while True:
            if not self._up:
                try:
                    await self._connect()
                except Exception as exc:
                    self._trouble("connect", exc)
                    self._first_try.set()
                    # Not woken by failing calls: while the store is away they all fail.
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self._config.check_interval)
                    continue
                backoff = _FIRST_BACKOFF
                self._first_try.set()
            await self._pause(self._config.check_interval)
            problem = await self._check()
            if problem is not None:
                await self._go_down(problem)
            else:
                # Calls failing while pings answer (a full store, say) wake this at most so often.
                await asyncio.sleep(min(self._config.check_interval, _CHECK_SPACING))

    async def _connect(self) -> None:
        listener = self._listener
        assert listener is not None
        await self._bounded(self._client.ping())
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            await self._bounded(pubsub.subscribe(self._channel))
            async with asyncio.timeout(max(1.0, self._config.timeout * 20)):
                await self._resync(listener)
        except BaseException:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            raise
        self._pubsub = pubsub
        self._reader = asyncio.create_task(self._read_events(pubsub), name="state-events")
        self._reader.add_done_callback(lambda _: self._wake.set())
        self._set_up(True)
        log.info("state.connected", url=_without_credentials(self._config.url))

    async def _check(self) -> str | None:
        """Why the connection is no longer usable, or None when it is. One late answer on a
        busy machine is no outage: the store must miss two pings in a row."""
        if self._reader is None or self._reader.done():
            return "lost the event subscription"
        for _ in range(2):
            try:
                await self._bounded(self._client.ping())
                return None
            except Exception as exc:
                self._trouble("ping", exc)
        return self._last_error

    async def _go_down(self, reason: str | None) -> None:
        self._set_up(False)
        log.warning("state.degraded", reason=reason, detail="serving on local state")
        await self._drop_subscription()
        with contextlib.suppress(Exception):
            await self._client.connection_pool.disconnect()

    async def _drop_subscription(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self._config.timeout * 4):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _read_events(self, pubsub: PubSub) -> None:
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None and message.get("type") == "message":
                self._on_event(message["data"])

    def _on_event(self, data: bytes) -> None:
        listener = self._listener
        try:
            event = json.loads(data)
            if listener is None or event["origin"] == self._instance:
                return
            if event["type"] == "breaker":
                news = BreakerNews(
                    str(event["engine"]), str(event["fingerprint"]), float(event["open_for"])
                )
                listener.breaker_news(news)
            elif event["type"] == "reload":
                task = asyncio.create_task(self._answer_reload(str(event["id"]), listener))
                self._answers.add(task)
                task.add_done_callback(self._answers.discard)
                log.info("state.fleet_reload_requested")
        except (ValueError, KeyError, TypeError) as exc:  # not ours, or another version's
            log.warning("state.event_ignored", error=_describe(exc))

    def _set_up(self, up: bool) -> None:
        if up != self._up:
            self._changed_at = time.monotonic()
        self._up = up
        self._ever_up = self._ever_up or up
        self._metrics.state_up.set(1 if up else 0)

    def _trouble(self, operation: str, exc: BaseException) -> None:
        """A call failed: count it, and have the supervisor look at the connection now."""
        self._errors += 1
        self._last_error = f"{operation}: {_describe(exc)}"
        self._metrics.state_errors.labels(operation).inc()
        self._wake.set()
        log.debug("state.call_failed", operation=operation, error=self._last_error)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        self._wake.clear()

    async def _bounded(self, step: Awaitable[T] | Coroutine[Any, Any, T]) -> T:
        async with asyncio.timeout(self._config.timeout):
            return await step


def _by_daemon(answers: dict[bytes, bytes]) -> dict[str, Any]:
    """Answers keyed by daemon name (made unique should two daemons share one)."""
    named: dict[str, Any] = {}
    for instance, raw in sorted(answers.items()):
        answer = json.loads(raw)
        name = str(answer.pop("daemon", instance.decode()))
        named[name if name not in named else f"{name} ({instance.decode()})"] = answer
    return named


def _encoded(message: ChatMessage) -> str:
    item = {"role": message.role, "content": message.content}
    if message.name is not None:
        item["name"] = message.name
    return json.dumps(item)


def _message(raw: bytes) -> ChatMessage:
    item = json.loads(raw)
    return ChatMessage(item["role"], item["content"], item.get("name"))


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, TimeoutError) and not text:
        return "timed out"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
