"""The daemon side of the benches that set a text-to-speech engine called in this process against
the same engine behind ``voxgate serve``: the daemon, and one streamed request to it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from tests.support.configs import daemon_config, engine_entry
from tests.support.daemon import serving


@contextlib.contextmanager
def speech_daemon(
    root: Path, name: str, engine: str, settings: Mapping[str, Any], models: Path
) -> Iterator[str]:
    """A daemon serving only ``engine`` (as ``name``) from ``models``; its URL. Its data folder
    is its own, so it never shares a cache with the engine in this process; the start allows
    for loading real weights."""
    config = daemon_config({name: engine_entry("tts", engine, settings)}, models_dir=models)
    env = {"VOXGATE_DATA_DIR": str(root / "daemon-data")}
    with serving(root, config, env=env, startup_timeout=600) as url:
        yield url


async def streamed_speech(
    client: httpx.AsyncClient, url: str, body: Mapping[str, Any]
) -> tuple[float, float]:
    """(first audio, wall) for one ``POST /v1/audio/speech`` read as it streams."""
    started = time.perf_counter()
    first = None
    async with client.stream("POST", url + "/v1/audio/speech", json=body, timeout=900) as reply:
        reply.raise_for_status()
        async for _ in reply.aiter_bytes():
            if first is None:
                first = time.perf_counter() - started
    wall = time.perf_counter() - started
    return first or wall, wall
