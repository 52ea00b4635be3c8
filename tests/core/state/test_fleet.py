"""A fleet as it is deployed: valkey-server, three daemons and HAProxy in front (round-robin,
health checks, retries to another daemon), all real processes on loopback.

Fake engines: the point is the core's shared state. An engine fails while its ``fail_file``
exists, a switch every daemon process sees. The tests run in order and share the fleet; the last
two take parts of it down.
"""

from __future__ import annotations

import asyncio
import io
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf

from tests.support.daemon import Daemon
from tests.support.fleet_tools import HAProxy, ValkeyServer
from tests.support.plugin_dist import fake_plugin_env

CONFIG = """\
state: {{backend: valkey, url: "{url}", key_prefix: fleet, timeout: 200ms,
         check_interval: 250ms}}
reload: {{watch: false}}
auth: {{rate_limit: 100000/s}}  # every request asks Valkey, to load it
policy:
  breaker: {{failures: 2, cooldown: 60s}}
  engines:
    metered: {{rate_limit: 10/s}}
engines:
  flaky: {{capability: llm, engine: fake, settings: {{reply: flaky, fail_file: "{llm_fails}"}}}}
  backup: {{capability: llm, engine: fake, settings: {{reply: from backup, delay: 0.02}}}}
  metered: {{capability: llm, engine: fake, settings: {{reply: metered}}}}
  shaky: {{capability: embeddings, engine: fake, settings: {{fail_file: "{embed_fails}"}}}}
  steady: {{capability: embeddings, engine: fake}}
  ears: {{capability: stt, engine: fake, settings: {{reply: what time is it}}}}
  mouth: {{capability: tts, engine: fake}}
routes: {{llm: [flaky, backup], embeddings: [shaky, steady], stt: [ears], tts: [mouth]}}
aliases: {{quota: metered}}
"""
CHAT = {"messages": [{"role": "user", "content": "hi"}]}


@dataclass
class Fleet:
    valkey: ValkeyServer
    daemons: list[Daemon]
    balancer: HAProxy
    llm_fails: Path
    embed_fails: Path
    haproxy_socket: Path

    def status(self, daemon: Daemon) -> dict[str, Any]:
        response = httpx.get(daemon.url + "/control/status", timeout=10)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    root = tmp_path_factory.mktemp("fleet")
    valkey = ValkeyServer(root / "valkey")
    llm_fails, embed_fails = root / "llm.fails", root / "embed.fails"
    config = root / "ai_backend.yaml"
    config.write_text(CONFIG.format(url=valkey.url, llm_fails=llm_fails, embed_fails=embed_fails))
    env = {
        **fake_plugin_env(root),
        "VOXGATE_DATA_DIR": str(root / "data"),
        "VOXGATE_API_KEYS": "",
        "VOXGATE_CONTROL_TOKEN": "",
    }
    daemons: list[Daemon] = []
    balancer: HAProxy | None = None
    try:
        # One after the other from this thread: a daemon dies with the thread that started it.
        for _ in range(3):
            daemons.append(Daemon(config, env))
        stats = root / "haproxy.sock"
        balancer = HAProxy(root, [f"127.0.0.1:{d.port}" for d in daemons], stats_socket=stats)
        yield Fleet(valkey, daemons, balancer, llm_fails, embed_fails, stats)
    finally:
        if balancer is not None:
            balancer.stop()
        for daemon in daemons:
            daemon.stop()
        valkey.stop()


def eventually(check: Callable[[], bool], seconds: float = 10.0) -> None:
    """Poll ``check`` (bounded; a failure names what never happened)."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.02)


def breaker_state(fleet: Fleet, daemon: Daemon, engine: str) -> str:
    return str(fleet.status(daemon)["engines"][engine]["breaker"]["state"])


async def load(
    url: str, seconds: float, body: dict[str, Any], workers: int = 6, during: Any = None
) -> Counter[int]:
    """``workers`` clients posting chat requests back to back for ``seconds``; the status codes
    they got. ``during`` (a blocking callable) runs in a thread once the load is under way."""
    statuses: Counter[int] = Counter()
    deadline = time.monotonic() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            try:
                response = await client.post("/v1/chat/completions", json=body)
                statuses[response.status_code] += 1
            except httpx.HTTPError as exc:
                statuses[-1] += 1
                print("request failed:", repr(exc))

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        tasks = [asyncio.create_task(worker(client)) for _ in range(workers)]
        if during is not None:
            await asyncio.sleep(seconds / 3)
            await asyncio.to_thread(during)
        await asyncio.gather(*tasks)
    return statuses


def haproxy_stat(path: Path, column: str) -> int:
    """A counter summed over the daemons' rows of HAProxy's ``show stat``."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(path))
        sock.sendall(b"show stat\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    lines = data.decode().splitlines()
    header = lines[0].lstrip("# ").split(",")
    index = header.index(column)
    rows = [line.split(",") for line in lines[1:] if line.startswith("daemons,d")]
    return sum(int(row[index] or 0) for row in rows)


def test_a_trip_on_one_daemon_makes_the_others_skip_the_engine(fleet: Fleet) -> None:
    a, b, c = fleet.daemons
    fleet.llm_fails.touch()
    try:
        for _ in range(2):  # policy.breaker.failures
            response = httpx.post(a.url + "/v1/chat/completions", json=CHAT, timeout=10)
            assert response.headers["x-voxgate-engine"] == "backup"
    finally:
        fleet.llm_fails.unlink()
    tripped = time.monotonic()
    assert breaker_state(fleet, a, "flaky") == "open"
    eventually(lambda: all(breaker_state(fleet, d, "flaky") == "open" for d in (b, c)))
    print(f"trip seen by b and c after {time.monotonic() - tripped:.3f}s (polled)")

    # The engine works again, but every daemon skips it until the shared cooldown ends.
    for _ in range(6):
        response = httpx.post(fleet.balancer.url + "/v1/chat/completions", json=CHAT, timeout=10)
        assert response.status_code == 200
        assert response.headers["x-voxgate-engine"] == "backup"
        assert response.headers["x-voxgate-fallback"] == "flaky=breaker_open"
    for daemon in (b, c):
        assert fleet.status(daemon)["engines"]["flaky"]["served"] == 0


async def test_a_fleet_rate_limit_holds_across_three_daemons(fleet: Fleet) -> None:
    started = time.monotonic()
    statuses = await load(fleet.balancer.url, 3.0, {**CHAT, "model": "quota"})
    elapsed = time.monotonic() - started
    served_by = [fleet.status(d)["engines"]["metered"]["served"] for d in fleet.daemons]
    print(f"rate limit 10/s over {elapsed:.2f}s: {dict(statuses)}; served per daemon {served_by}")
    assert set(statuses) == {200, 429}
    # A burst of 10, then 10 a second: for the fleet, not for each daemon (that would be 3x).
    assert statuses[200] <= 10 + 10 * elapsed + 2
    assert statuses[200] >= 10 * (elapsed - 1)
    assert all(count > 0 for count in served_by)  # every daemon served part of it


def wav() -> bytes:
    buffer = io.BytesIO()
    tone = (0.2 * np.sin(np.arange(8000) / 16000 * 2 * np.pi * 300)).astype(np.float32)
    sf.write(buffer, tone, 16000, format="WAV")
    return buffer.getvalue()


def test_a_conversation_started_on_one_daemon_continues_on_another(fleet: Fleet) -> None:
    a, _, c = fleet.daemons
    files = {"file": ("turn.wav", wav(), "audio/wav")}
    first = httpx.post(a.url + "/v1/conversation", files=files, timeout=30)
    assert first.status_code == 200, first.text
    conversation = first.json()["conversation_id"]
    assert first.json()["usage"]["prompt_tokens"] == 2  # system prompt and the question
    data = {"conversation_id": conversation}
    second = httpx.post(c.url + "/v1/conversation", files=files, data=data, timeout=30)
    assert second.status_code == 200, second.text
    # The fake engine counts the messages it was given: c knew the first turn.
    assert second.json()["usage"]["prompt_tokens"] == 4


def test_ctl_reload_fleet_reloads_every_daemon(fleet: Fleet) -> None:
    a = fleet.daemons[0]
    before = [fleet.status(d)["generation"] for d in fleet.daemons]
    result = subprocess.run(
        [sys.executable, "-m", "core.cli.main", "ctl", "--url", a.url, "reload", "--fleet"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    others = [fleet.status(d)["state"]["daemon_id"] for d in fleet.daemons[1:]]
    for name in others:
        assert name in result.stdout
    after = [fleet.status(d)["generation"] for d in fleet.daemons]
    assert after == [n + 1 for n in before]


async def test_valkey_killed_mid_load_fails_no_request_and_resyncs(fleet: Fleet) -> None:
    a, b, c = fleet.daemons

    def outage() -> None:
        fleet.valkey.kill()
        eventually(lambda: all(fleet.status(d)["state"]["state"] == "degraded" for d in (a, b, c)))

    statuses = await load(fleet.balancer.url, 3.0, CHAT, during=outage)
    print(f"Valkey killed mid-load: {dict(statuses)}")
    assert set(statuses) == {200}

    # While the store is away an engine trips on a alone ...
    fleet.embed_fails.touch()
    try:
        for _ in range(2):
            body = {"input": "x", "model": "embeddings"}
            httpx.post(a.url + "/v1/embeddings", json=body, timeout=10).raise_for_status()
    finally:
        fleet.embed_fails.unlink()
    assert breaker_state(fleet, a, "shaky") == "open"
    assert breaker_state(fleet, b, "shaky") == "closed"
    # ... and once it is back (empty: it keeps nothing on disk), a publishes it again.
    fleet.valkey.start()
    eventually(lambda: all(fleet.status(d)["state"]["state"] == "connected" for d in (a, b, c)))
    eventually(lambda: all(breaker_state(fleet, d, "shaky") == "open" for d in (b, c)))
    metrics = httpx.get(b.url + "/metrics", timeout=10).text
    assert "voxgate_state_backend_up 1.0" in metrics
    assert "voxgate_state_backend_errors_total" in metrics


async def test_killing_a_daemon_under_load_loses_no_request(fleet: Fleet) -> None:
    victim = fleet.daemons[2]
    retried_before = haproxy_stat(fleet.haproxy_socket, "wretr") + haproxy_stat(
        fleet.haproxy_socket, "wredis"
    )
    statuses = await load(fleet.balancer.url, 3.0, CHAT, workers=8, during=victim.kill)
    retried = (
        haproxy_stat(fleet.haproxy_socket, "wretr")
        + haproxy_stat(fleet.haproxy_socket, "wredis")
        - retried_before
    )
    print(f"daemon killed mid-load: {dict(statuses)}; HAProxy retried {retried}")
    assert set(statuses) == {200}
    assert retried > 0  # requests did reach the dead daemon and were sent again
