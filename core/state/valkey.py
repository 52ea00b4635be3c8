"""The Valkey state backend: one store shared by every daemon of a fleet.

Keys, under ``state.key_prefix`` (``p``):

- ``p:breaker:<engine>:<fingerprint>``: present while that engine's breaker is open somewhere
  (it expires when the breaker would let a probe through); its value names the daemon.
  ``p:breakers`` lists these keys, so a resync reads them without scanning the keyspace.
- ``p:rate:<name>``: one GCRA bucket (:mod:`core.state.rate`), updated by a Lua script.
- ``p:places:<name>``: the requests running at once under a fleet-wide concurrency limit, a
  sorted set of tokens scored by when their lease ends; the daemon holding a token renews it,
  so the places of a daemon that died free themselves within ``_PLACE_LEASE`` seconds.
- ``p:conversation:<key>``: a conversation's messages (JSON), expiring after its idle time.
- ``p:reload:<id>``: the daemons' answers to one fleet reload.

The channel ``p:events`` carries breaker changes and reload requests to every daemon.

Every call is bounded (:mod:`core.state.valkey_link` keeps the connection). A call that fails
is answered from local state: an in-process backend kept beside this one, which also holds a
copy of each conversation. While the store cannot be reached the daemon runs on local state
alone; when it answers again the breakers are resynced: this daemon publishes those it has open
and applies those the others have.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import socket
import time
import uuid
from typing import Any, cast, get_args

import structlog

from core.client_json import UnreadableJson, read_client_json
from core.config.schema import StateConfig
from core.engines.llm import ChatMessage, Role
from core.observability.metrics import Metrics
from core.state.backend import BreakerNews, FleetListener, HistoryLimits
from core.state.memory import MemoryBackend
from core.state.rate import Rate
from core.state.valkey_link import ValkeyLink
from core.state.valkey_scripts import GCRA, RENEW_PLACES, TAKE_PLACE

log = structlog.get_logger(__name__)

#: Roles a remembered message may have.
_ROLES = frozenset(get_args(Role))

#: How long the daemons' answers to a fleet reload are kept for the daemon that asked.
_RELOAD_ANSWERS_TTL = 300
#: Breaker changes waiting to be sent; beyond this they are dropped (a resync sends them again).
_OUTBOX = 1024
#: Seconds a place stays held without renewal; held places are renewed three times as often.
_PLACE_LEASE = 15.0


class ValkeyBackend:
    kind = "valkey"

    def __init__(self, config: StateConfig, metrics: Metrics, password: str | None = None) -> None:
        self.daemon_id = config.daemon_id or f"{socket.gethostname()}:{os.getpid()}"
        #: Tells this process's own messages apart even if two daemons were given one name.
        self._instance = uuid.uuid4().hex[:12]
        self.local = MemoryBackend()
        self._prefix = config.key_prefix
        self._channel = f"{self._prefix}:events"
        self._index = f"{self._prefix}:breakers"
        self._link = ValkeyLink(config, metrics, password, self._channel)
        self._client = self._link.client
        self._gcra = self._client.register_script(GCRA)
        self._take_place = self._client.register_script(TAKE_PLACE)
        self._renew_places = self._client.register_script(RENEW_PLACES)
        #: Places this daemon holds in the store, by key name: renewed until given back.
        self._held: dict[str, set[str]] = {}
        self._renewer: asyncio.Task[None] | None = None
        self._listener: FleetListener | None = None
        self._outbox: asyncio.Queue[BreakerNews] = asyncio.Queue(_OUTBOX)
        self._sender: asyncio.Task[None] | None = None
        self._answers: set[asyncio.Task[None]] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, listener: FleetListener) -> None:
        self._listener = listener
        self._sender = asyncio.create_task(self._send_breakers(), name="state-breakers")
        self._renewer = asyncio.create_task(self._renew_held(), name="state-places")
        await self._link.start(lambda: self._resync(listener), self._on_event)

    async def close(self) -> None:
        tasks = [t for t in (self._sender, self._renewer, *self._answers) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._link.close()

    def status(self) -> dict[str, Any]:
        return {
            "backend": self.kind,
            "key_prefix": self._prefix,
            "daemon_id": self.daemon_id,
            **self._link.status(),
        }

    # -- rate limits and conversations (on a request's path) ---------------------------------

    async def take(self, key: str, rate: Rate) -> float:
        if self._link.up:
            try:
                waited = await self._link.bounded(
                    self._gcra(
                        keys=[f"{self._prefix}:rate:{key}"],
                        args=[rate.interval * 1000, rate.burst],
                    )
                )
                return float(waited) / 1000
            except Exception as exc:
                self._link.trouble("rate_limit", exc)
        return await self.local.take(key, rate)

    async def take_place(self, key: str, places: int) -> str | None:
        if self._link.up:
            name = f"{self._prefix}:places:{key}"
            token = f"{self._instance}:{uuid.uuid4().hex[:12]}"
            try:
                taken = await self._link.bounded(
                    self._take_place(keys=[name], args=[places, int(_PLACE_LEASE * 1000), token])
                )
            except Exception as exc:
                # A call cut off by its bound may still have taken the place: unrenewed, it
                # frees itself when its lease ends.
                self._link.trouble("places", exc)
            else:
                if not int(taken):
                    return None
                self._held.setdefault(name, set()).add(token)
                return token
        return await self.local.take_place(key, places)

    def give_back(self, key: str, token: str) -> None:
        if token.startswith("local:"):
            self.local.give_back(key, token)
            return
        name = f"{self._prefix}:places:{key}"
        held = self._held.get(name)
        if held is not None:
            held.discard(token)
            if not held:
                del self._held[name]
        if not self._link.up:
            return  # not renewed any more: the place frees itself when its lease ends

        async def remove() -> None:
            try:
                await self._link.bounded(self._client.zrem(name, token))
            except Exception as exc:
                self._link.trouble("places", exc)

        task = asyncio.get_running_loop().create_task(remove(), name="state-give-back")
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    async def _renew_held(self) -> None:
        while True:
            await asyncio.sleep(_PLACE_LEASE / 3)
            if not self._link.up:
                continue
            for name, tokens in list(self._held.items()):
                if not tokens:
                    continue
                try:
                    await self._link.bounded(
                        self._renew_places(
                            keys=[name], args=[int(_PLACE_LEASE * 1000), *sorted(tokens)]
                        )
                    )
                except Exception as exc:
                    self._link.trouble("places", exc)

    async def history(self, key: str, idle_ttl: float) -> list[ChatMessage]:
        if self._link.up:
            try:
                items = await self._link.bounded(
                    self._client.lrange(f"{self._prefix}:conversation:{key}", 0, -1)
                )
                return [_message(item) for item in items]
            except Exception as exc:
                self._link.trouble("conversation", exc)
        return await self.local.history(key, idle_ttl)

    async def remember(self, key: str, turn: list[ChatMessage], limits: HistoryLimits) -> None:
        # The local copy carries the conversation on this daemon while the store is away.
        await self.local.remember(key, turn, limits)
        if not self._link.up:
            return
        name = f"{self._prefix}:conversation:{key}"
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                if limits.max_messages == 0:
                    pipe.delete(name)
                else:
                    pipe.rpush(name, *(_encoded(m) for m in turn))
                    pipe.ltrim(name, -limits.max_messages, -1)
                    pipe.pexpire(name, max(1, int(limits.idle_ttl * 1000)))
                await self._link.bounded(pipe.execute())
        except Exception as exc:
            self._link.trouble("conversation", exc)

    # -- breakers ----------------------------------------------------------------------------

    def publish_breaker(self, news: BreakerNews) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._outbox.put_nowait(news)

    async def _send_breakers(self) -> None:
        """One sender, so the other daemons hear one engine's changes in the order they
        happened."""
        while True:
            news = await self._outbox.get()
            if not self._link.up:
                continue  # the resync after reconnecting publishes what is still open
            try:
                await self._link.bounded(self._write_breaker(news))
            except Exception as exc:
                self._link.trouble("breaker", exc)

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
            # A key of another type (written by an older or buggy daemon) fails alone.
            replies = await pipe.execute(raise_on_error=False)
        expired = []
        for index, name in enumerate(names):
            owner, ttl_ms = replies[2 * index], replies[2 * index + 1]
            text = name.decode(errors="replace")
            engine, _, fingerprint = text[len(self._prefix) + 9 :].rpartition(":")
            if not isinstance(owner, bytes) or not isinstance(ttl_ms, int) or ttl_ms <= 0:
                expired.append(name)
            elif (engine, fingerprint) in mine:
                continue
            elif owner.decode(errors="replace") == self._instance:  # closed here meanwhile
                await self._write_breaker(BreakerNews(engine, fingerprint, 0.0))
            else:
                listener.breaker_news(BreakerNews(engine, fingerprint, ttl_ms / 1000))
        if expired:
            await self._client.srem(self._index, *expired)

    # -- fleet reload ------------------------------------------------------------------------

    async def reload_fleet(self, wait: float) -> dict[str, Any]:
        report: dict[str, Any] = {"backend": self.kind, "reached": 0, "daemons": {}, "pending": 0}
        if not self._link.up:
            report["error"] = f"the state store is unreachable ({self._link.last_error})"
            return report
        request = uuid.uuid4().hex[:16]
        event = {"type": "reload", "origin": self._instance, "id": request}
        try:
            receivers = await self._link.bounded(
                self._client.publish(self._channel, json.dumps(event))
            )
        except Exception as exc:
            self._link.trouble("reload", exc)
            report["error"] = f"the reload could not be broadcast ({self._link.last_error})"
            return report
        expected = max(int(receivers) - 1, 0)  # this daemon hears its own request too
        report["reached"] = expected
        answers: dict[bytes, bytes] = {}
        deadline = time.monotonic() + wait
        while expected and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            with contextlib.suppress(Exception):
                answers = await self._link.bounded(
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
                await self._link.bounded(pipe.execute())
        except Exception as exc:
            self._link.trouble("reload", exc)

    # -- events from the other daemons ------------------------------------------------------

    def _on_event(self, data: bytes) -> None:
        listener = self._listener
        try:
            # Read like a client's JSON: another daemon may be older, or buggy.
            event = read_client_json(data)
            if listener is None or event["origin"] == self._instance:
                return
            if event["type"] == "breaker":
                open_for = float(event["open_for"])
                if not math.isfinite(open_for):  # NaN or infinity would hold it open for good
                    raise ValueError(f"open_for {open_for} is not a number of seconds")
                news = BreakerNews(str(event["engine"]), str(event["fingerprint"]), open_for)
                listener.breaker_news(news)
            elif event["type"] == "reload":
                task = asyncio.create_task(self._answer_reload(str(event["id"]), listener))
                self._answers.add(task)
                task.add_done_callback(self._answers.discard)
                log.info("state.fleet_reload_requested")
        except (ValueError, KeyError, TypeError) as exc:  # not ours, or another version's
            log.warning("state.event_ignored", error=repr(exc))


def _by_daemon(answers: dict[bytes, bytes]) -> dict[str, Any]:
    """Answers keyed by daemon name (made unique should two daemons share one)."""
    named: dict[str, Any] = {}
    for raw_instance, raw in sorted(answers.items()):
        instance = raw_instance.decode(errors="replace")
        answer = _answer(raw)
        name = str(answer.pop("daemon", instance))
        named[name if name not in named else f"{name} ({instance})"] = answer
    return named


def _answer(raw: bytes) -> dict[str, Any]:
    """One daemon's answer to a fleet reload; one this daemon cannot read (an older or buggy
    daemon wrote it) is reported as a failed reload, not raised."""
    try:
        answer = read_client_json(raw)
    except UnreadableJson as exc:
        problem = exc.reason
    else:
        if isinstance(answer, dict):
            return answer
        problem = "is not a JSON object"
    message = f"its answer {problem}"[:300]
    return {"ok": False, "error": {"issues": [{"path": "", "message": message}]}}


def _encoded(message: ChatMessage) -> str:
    item = {"role": message.role, "content": message.content}
    if message.name is not None:
        item["name"] = message.name
    return json.dumps(item)


def _message(raw: bytes) -> ChatMessage:
    """One remembered message; raises ValueError for one this daemon cannot use (an older or
    buggy daemon wrote it), so the conversation is read from this daemon's own copy instead."""
    item = read_client_json(raw)
    if not isinstance(item, dict):
        raise ValueError("a remembered message is not a JSON object")
    role, content, name = item.get("role"), item.get("content"), item.get("name")
    if role not in _ROLES or not isinstance(content, str) or not isinstance(name, str | None):
        raise ValueError("a remembered message has no usable role, content or name")
    return ChatMessage(cast(Role, role), content, name)
