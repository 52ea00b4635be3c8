"""Retrieval fixtures: the real embedder and a real Chroma store, embedded or a server process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from core.engines import RetrievalEngine
from core.runtime.runtime import Runtime
from tests.support.daemon import free_port
from tests.support.runtime import running_runtime

CONFIG = """\
reload: {{watch: false}}
engines:
  minilm: {{capability: embeddings, engine: sentence_transformers}}
  docs:
    capability: rag
    engine: chroma
    settings: {{{store}, chunk_chars: 300, chunk_overlap: 60}}
routes: {{embeddings: [minilm], rag: [docs]}}
"""


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` server on a free loopback port."""
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    chroma = Path(sys.executable).parent / "chroma"
    process = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError("chroma server did not start")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)


@pytest.fixture(params=["embedded", "server"])
def store_setting(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "embedded":
        return f"path: {tmp_path / 'chroma'}"
    host, port = request.getfixturevalue("chroma_server").split(":")
    return f"host: {host}, port: {port}"


@pytest.fixture
def rag_config(store_setting: str, tmp_path: Path) -> Path:
    path = tmp_path / "rag.yaml"
    path.write_text(CONFIG.format(store=store_setting))
    return path


@pytest.fixture
async def runtime(rag_config: Path) -> AsyncIterator[Runtime]:
    async with running_runtime(rag_config, entry_points=True) as running:
        yield running


@pytest.fixture
async def engine(runtime: Runtime) -> RetrievalEngine:
    slot = runtime.current.slots["docs"]
    await slot.ensure_loaded()
    assert isinstance(slot.engine, RetrievalEngine)
    return slot.engine
