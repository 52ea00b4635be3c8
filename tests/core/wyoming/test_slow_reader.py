"""A Wyoming client that stops reading its answer is cut off, so it cannot hold its connection
slot (and the engine speaking to it) for good."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from wyoming.info import Describe

from tests.core.wyoming.support import WyomingDaemon, read_until, wyoming_daemon
from tests.support.plugin_dist import fake_plugin_env

# Far more audio than the socket buffers between the daemon and the client can hold.
CONFIG = """\
mode: local
reload: {watch: false}
logging: {level: info, format: json}
engines:
  endless: {capability: tts, engine: fake, settings: {chunks: 100000}}
routes: {tts: [endless]}
"""


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WyomingDaemon]:
    folder = tmp_path_factory.mktemp("wyoming-slow-reader")
    env = fake_plugin_env(Path(folder))
    wyoming = "max_connections: 1, idle_timeout: 2"
    with wyoming_daemon(folder, CONFIG, wyoming, env=env) as daemon:
        yield daemon


async def test_a_client_that_never_reads_loses_its_slot(running: WyomingDaemon) -> None:
    with socket.create_connection(("127.0.0.1", running.port)) as stuck:
        request = {"type": "synthesize", "data": {"text": "Go on."}}
        stuck.sendall(json.dumps(request).encode() + b"\n")
        # The only slot is taken until the daemon gives up on the client that reads nothing.
        deadline = time.monotonic() + 60
        while True:
            async with running.client() as client:
                await client.write_event(Describe().event())
                answer = await read_until(client, "info")
            if answer[-1].type == "info":
                break
            assert answer[-1].data["code"] == "busy"
            assert time.monotonic() < deadline, "the client that never reads still holds its slot"
            await asyncio.sleep(0.5)
    assert "wyoming.client_not_reading" in running.daemon.log.read_text(encoding="utf-8")
